# The images the real node runs, built from this machine's JRE and tools and from Maven
# Central's jars: drop-in for the charts' default images (the same commands on PATH, the same
# paths and the same non-root uid 1000), so that what passes here passes with the public ones.
# Each is a docker-archive in the cache, keyed by the versions and by the files that make it.

IMAGE_TOOLS=(/bin/bash /usr/bin/sed /usr/bin/grep /usr/bin/cat /usr/bin/cp /usr/bin/mv /usr/bin/rm /usr/bin/mkdir
  /usr/bin/ls /usr/bin/sleep /usr/bin/env /usr/bin/head /usr/bin/tail /usr/bin/sort /usr/bin/id /usr/bin/hostname
  /usr/bin/dirname /usr/bin/basename /usr/bin/touch /usr/bin/chmod /usr/bin/ln /usr/bin/readlink /usr/bin/tr
  /usr/bin/cut /usr/bin/wc /usr/bin/date /usr/bin/mktemp /usr/bin/tee /usr/bin/uname /usr/bin/expr /usr/bin/seq /usr/bin/od
  /usr/bin/sha1sum /usr/bin/base64 /usr/bin/timeout)
# The machine's own JRE, wherever its package put it.
JAVA_HOME_HOST=$(dirname "$(dirname "$(readlink -f "$(command -v java)")")")

IMAGES_DIR() { echo "$CACHE_DIR/images-$(image_inputs_digest)"; }
# The jar set's revision is in the name: a change to the set below fetches it again.
ZOOKEEPER_JARS() { echo "$CACHE_DIR/zookeeper-$ZOOKEEPER_VERSION-r2"; }

# A digest of everything an image is made of besides the jars' versions: the scripts that build
# them and the JRE they copy, so that changing either builds them again.
image_inputs_digest() {
  local here
  here=$(dirname "${BASH_SOURCE[0]}")
  {
    cat "$here/build_image.py" "$here/images.sh" "$here/../images/"*/* 2>/dev/null
    echo "$KAFKA_VERSION $ZOOKEEPER_VERSION $KAFKA_IMAGE $ZOOKEEPER_IMAGE $PAUSE_IMAGE"
    readlink -f "$JAVA_HOME_HOST/bin/java"
    cat "$JAVA_HOME_HOST/release" 2>/dev/null
  } | sha256sum | cut -c1-12
}

# ZooKeeper's own runtime classpath, as its binary distribution's lib/ has it: the POM's runtime
# scope, and what the POM marks provided but the server loads (metrics, logging, snapshots).
build_zookeeper_jars() {
  local dir
  dir=$(ZOOKEEPER_JARS)
  cached "$dir" && return 0
  log "zookeeper $ZOOKEEPER_VERSION: fetching jars from Maven Central"
  rm -rf "$dir"
  maven_classpath zookeeper "$dir" "org.apache.zookeeper:zookeeper:$ZOOKEEPER_VERSION" \
    ch.qos.logback:logback-classic:1.2.13 io.dropwizard.metrics:metrics-core:4.1.12.1 \
    org.xerial.snappy:snappy-java:1.1.10.5 commons-cli:commons-cli:1.5.0
  ls "$dir/lib" | grep -q "^zookeeper-$ZOOKEEPER_VERSION.jar$" || die "zookeeper: zookeeper-$ZOOKEEPER_VERSION.jar missing from $dir/lib"
  touch "$dir/.complete"
}

build_pause() {
  local dir=$1
  local here
  here=$(dirname "${BASH_SOURCE[0]}")
  run_logged images "$CACHE_DIR/logs/images.log" env CGO_ENABLED=0 GOFLAGS= go build -trimpath -ldflags "-s -w" \
    -o "$dir/pause" "$here/../images/pause/main.go"
}

# image_spec NAME: the JSON spec of one image for build_image.py.
image_spec() {
  local here tools
  here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
  tools=$(printf '"%s",' "${IMAGE_TOOLS[@]}")
  tools=${tools%,}
  local jre_libs
  jre_libs=$(printf '"%s",' "$JAVA_HOME_HOST/bin/java" "$JAVA_HOME_HOST"/lib/server/libjvm.so "$JAVA_HOME_HOST"/lib/*.so)
  jre_libs=${jre_libs%,}
  local path="/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
  local passwd group
  case $1 in
  kafka)
    passwd='root:x:0:0:root:/root:/bin/bash\nappuser:x:1000:1000::/home/appuser:/bin/bash\n'
    group='root:x:0:\nappuser:x:1000:\n'
    cat <<SPEC
{"name": "$KAFKA_IMAGE", "user": "1000", "workdir": "/home/appuser",
 "env": ["PATH=$path", "JAVA_HOME=$JAVA_HOME_HOST", "KAFKA_LOG4J_OPTS=-Dlog4j.configuration=file:/etc/kafka/log4j.properties"],
 "programs": [$tools], "libraries_of": [$jre_libs],
 "trees": [["$JAVA_HOME_HOST", "$JAVA_HOME_HOST"], ["$(KAFKA_LIBS)", "/usr/share/java/kafka"]],
 "files": [["$here/images/kafka/kafka-server-start", "/usr/bin/kafka-server-start", "0755"],
           ["$here/images/kafka/log4j.properties", "/etc/kafka/log4j.properties", "0644"]],
 "symlinks": [["$JAVA_HOME_HOST/bin/java", "/usr/bin/java"]],
 "text": [["/etc/passwd", "$passwd", "0644"], ["/etc/group", "$group", "0644"],
          ["/etc/nsswitch.conf", "passwd: files\\ngroup: files\\nhosts: files dns\\n", "0644"]],
 "dirs": [["/tmp", 0, 0, "1777"], ["/home/appuser", 1000, 1000, "0755"], ["/etc/kafka", 1000, 1000, "0755"],
          ["/var/lib/kafka/data", 1000, 1000, "0755"]]}
SPEC
    ;;
  zookeeper)
    local dist=/apache-zookeeper-$ZOOKEEPER_VERSION-bin
    passwd='root:x:0:0:root:/root:/bin/bash\nzookeeper:x:1000:1000::/home/zookeeper:/bin/bash\n'
    group='root:x:0:\nzookeeper:x:1000:\n'
    # As the official image: root by default (its entrypoint drops to uid 1000; the chart
    # asks for uid 1000 itself, since it runs its own command).
    cat <<SPEC
{"name": "$ZOOKEEPER_IMAGE", "user": "0", "workdir": "$dist",
 "env": ["PATH=$path:$dist/bin", "JAVA_HOME=$JAVA_HOME_HOST", "ZOO_CONF_DIR=/conf", "ZOO_DATA_DIR=/data",
         "ZOO_DATA_LOG_DIR=/datalog", "ZOO_LOG_DIR=/logs"],
 "programs": [$tools], "libraries_of": [$jre_libs],
 "trees": [["$JAVA_HOME_HOST", "$JAVA_HOME_HOST"], ["$(ZOOKEEPER_JARS)/lib", "$dist/lib"]],
 "symlinks": [["$JAVA_HOME_HOST/bin/java", "/usr/bin/java"]],
 "text": [["/etc/passwd", "$passwd", "0644"], ["/etc/group", "$group", "0644"],
          ["/etc/nsswitch.conf", "passwd: files\\ngroup: files\\nhosts: files dns\\n", "0644"]],
 "dirs": [["/tmp", 0, 0, "1777"], ["/home/zookeeper", 1000, 1000, "0755"], ["/data", 1000, 1000, "0755"],
          ["/datalog", 1000, 1000, "0755"], ["/conf", 1000, 1000, "0755"], ["/logs", 1000, 1000, "0755"]]}
SPEC
    ;;
  pause)
    cat <<SPEC
{"name": "$PAUSE_IMAGE", "user": "65535", "cmd": ["/pause"], "files": [["$2/pause", "/pause", "0755"]]}
SPEC
    ;;
  esac
}

build_images() {
  build_zookeeper_jars
  local dir
  dir=$(IMAGES_DIR)
  cached "$dir" && return 0
  log "images: building $KAFKA_IMAGE, $ZOOKEEPER_IMAGE and $PAUSE_IMAGE from this machine's JRE"
  local logfile=$CACHE_DIR/logs/images.log
  rm -rf "$dir" && mkdir -p "$dir"
  build_pause "$dir"
  local name
  for name in kafka zookeeper pause; do
    image_spec "$name" "$dir" >"$dir/$name.json"
    run_logged images "$logfile" python3 "$(dirname "${BASH_SOURCE[0]}")/build_image.py" "$dir/$name.json" "$dir/$name.tar"
  done
  touch "$dir/.complete"
}
