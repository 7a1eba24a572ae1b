// Admin calls the stack's set-up and health checks need, run with `java -cp <kafka libs>
// StackAdmin.java`: the Kafka tools either lack them or would want the password in argv.
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.ScramCredentialInfo;
import org.apache.kafka.clients.admin.ScramMechanism;
import org.apache.kafka.clients.admin.UserScramCredentialUpsertion;

public class StackAdmin {
  public static void main(String[] args) throws Exception {
    if (args.length < 2) {
      System.err.println("usage: StackAdmin brokers BOOTSTRAP | scram-user BOOTSTRAP USER (password on stdin)");
      System.exit(2);
    }
    Properties props = new Properties();
    props.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, args[1]);
    props.put(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, "5000");
    props.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, "10000");
    try (Admin admin = Admin.create(props)) {
      switch (args[0]) {
        case "brokers":
          System.out.println(admin.describeCluster().nodes().get(10, TimeUnit.SECONDS).size());
          break;
        case "scram-user":
          String password = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8)).readLine();
          admin.alterUserScramCredentials(List.of(
              new UserScramCredentialUpsertion(args[2], new ScramCredentialInfo(ScramMechanism.SCRAM_SHA_256, 8192), password),
              new UserScramCredentialUpsertion(args[2], new ScramCredentialInfo(ScramMechanism.SCRAM_SHA_512, 8192), password)))
              .all().get(30, TimeUnit.SECONDS);
          break;
        default:
          System.err.println("unknown command " + args[0]);
          System.exit(2);
      }
    }
  }
}
