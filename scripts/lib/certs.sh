# PKI of the local stack: one CA for Kubernetes (serving and client certificates, service
# account keys) and one for Kafka's TLS listener, so a test can present the wrong one.
# Keys are P-256 and written 0600.

# new_ca NAME CN
new_ca() {
  local name=$1 cn=$2
  [[ -f $CERT_DIR/$name.crt ]] && return 0
  (umask 077 && openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$CERT_DIR/$name.key")
  openssl req -x509 -new -key "$CERT_DIR/$name.key" -subj "/CN=$cn" -days 3650 \
    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign \
    -out "$CERT_DIR/$name.crt" 2>/dev/null
}

# new_cert CA NAME SUBJECT EKU [SANS]: a leaf certificate signed by CA.
new_cert() {
  local ca=$1 name=$2 subject=$3 eku=$4 sans=${5:-}
  [[ -f $CERT_DIR/$name.crt ]] && return 0
  (umask 077 && openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$CERT_DIR/$name.key")
  local ext
  ext=$(mktemp)
  {
    echo "basicConstraints=critical,CA:FALSE"
    echo "keyUsage=critical,digitalSignature,keyEncipherment"
    echo "extendedKeyUsage=$eku"
    [[ -n $sans ]] && echo "subjectAltName=$sans"
  } >"$ext"
  openssl req -new -key "$CERT_DIR/$name.key" -subj "$subject" 2>/dev/null |
    openssl x509 -req -CA "$CERT_DIR/$ca.crt" -CAkey "$CERT_DIR/$ca.key" -CAcreateserial \
      -days 3650 -extfile "$ext" -out "$CERT_DIR/$name.crt" 2>/dev/null
  rm -f "$ext"
}

make_pki() {
  mkdir -p "$CERT_DIR"
  chmod 700 "$CERT_DIR"
  new_ca kube-ca "hikube-stack kubernetes CA"
  new_cert kube-ca apiserver "/CN=kube-apiserver" serverAuth \
    "DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local,IP:127.0.0.1,IP:10.96.0.1"
  new_cert kube-ca admin "/O=system:masters/CN=hikube-admin" clientAuth
  new_cert kube-ca controller-manager "/CN=system:kube-controller-manager" clientAuth
  new_cert kube-ca scheduler "/CN=system:kube-scheduler" clientAuth
  if [[ ! -f $CERT_DIR/service-accounts.key ]]; then
    (umask 077 && openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$CERT_DIR/service-accounts.key" 2>/dev/null)
    openssl pkey -in "$CERT_DIR/service-accounts.key" -pubout -out "$CERT_DIR/service-accounts.pub"
  fi
  new_ca kafka-ca "hikube-stack kafka CA"
  new_cert kafka-ca kafka-broker "/CN=localhost" serverAuth,clientAuth "DNS:localhost,IP:127.0.0.1"
  # Kafka's PEM key store takes the key and its chain from one file.
  if [[ ! -f $CERT_DIR/kafka-broker.pem ]]; then
    (umask 077 && cat "$CERT_DIR/kafka-broker.key" "$CERT_DIR/kafka-broker.crt" >"$CERT_DIR/kafka-broker.pem")
  fi
}

# write_kubeconfig FILE CERT_NAME: a kubeconfig for the local apiserver with embedded credentials.
write_kubeconfig() {
  local file=$1 cert=$2
  (
    umask 077
    cat >"$file" <<KUBECONFIG
apiVersion: v1
kind: Config
clusters:
- name: hikube-stack
  cluster:
    server: https://127.0.0.1:$APISERVER_PORT
    certificate-authority-data: $(base64 -w0 "$CERT_DIR/kube-ca.crt")
users:
- name: $cert
  user:
    client-certificate-data: $(base64 -w0 "$CERT_DIR/$cert.crt")
    client-key-data: $(base64 -w0 "$CERT_DIR/$cert.key")
contexts:
- name: hikube-stack
  context:
    cluster: hikube-stack
    user: $cert
current-context: hikube-stack
KUBECONFIG
  )
}
