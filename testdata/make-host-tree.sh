#!/usr/bin/env bash
# Generates a realistic OpenShift 3.11 master host tree (also an etcd member and a
# node) under DIR, following the file list of the Day Two Operations Guide, section
# 4.1 "Creating a master host backup", and 4.6.1.1 for /etc/etcd.
#
#   testdata/make-host-tree.sh DIR
#   testdata/make-host-tree.sh DIR --role master|node|infra|etcd --host NAME [options]
#
# Without --role the tree is the demo master above, exactly as it always was (the demo
# and the tests rely on it). With --role, the tree is what openshift-ansible
# release-3.11 lays down on that kind of host (roles openshift_control_plane,
# openshift_node, openshift_node_group, etcd; see host_role_tree below):
#   --host NAME             the host's name (default master-0.example.com)
#   --first-master          the first master: also the CA files (ca.serial.txt,
#                           /etc/etcd/ca/, /etc/etcd/generated_certs/)
#   --etcd-name NAME        a master is also an etcd member named NAME (an etcd host
#                           always is one; default: its --host)
#   --etcd-peer-ip IP       the member's address (default 192.168.55.8): peer URL
#                           https://IP:2380, client URL https://IP:2379
#   --etcd-peer-url URL     override the peer URL (e.g. another port on loopback)
#   --etcd-client-url URL   override the client URL
#   --etcd-cluster LIST     ETCD_INITIAL_CLUSTER (name=peer-url,...; default: this
#                           member alone); its names are the generated_certs dirs
#   --etcd-data-dir DIR     ETCD_DATA_DIR (default /var/lib/etcd/)
#   --ca-dir DIR            keep the cluster and etcd CAs in DIR (created when
#                           missing), so the trees of one cluster share them
#
# Certificates are real (openssl, EC P-256), keys are 0600, kubeconfigs 0600; the
# tree has its own etc/passwd and etc/group (the etcd user is 993:990). Owners,
# SELinux labels (security.selinux), a POSIX ACL and a user.* xattr are applied when
# running as root on a filesystem with xattr support; each step that cannot run here
# is skipped with a printed reason. Includes a relative symlink and a hard link.
set -euo pipefail

root=${1:?usage: make-host-tree.sh DIR [--role master|node|infra|etcd --host NAME ...]}
shift
host=master-0.example.com
role='' first_master=0 etcd_name='' etcd_ip=192.168.55.8 etcd_peer_url='' etcd_client_url=''
etcd_cluster='' etcd_data_dir=/var/lib/etcd/ ca_dir=''
while [ $# -gt 0 ]; do
  case $1 in
    --role) role=${2:?--role needs a value}; shift 2 ;;
    --host) host=${2:?--host needs a value}; shift 2 ;;
    --first-master) first_master=1; shift ;;
    --etcd-name) etcd_name=${2:?}; shift 2 ;;
    --etcd-peer-ip) etcd_ip=${2:?}; shift 2 ;;
    --etcd-peer-url) etcd_peer_url=${2:?}; shift 2 ;;
    --etcd-client-url) etcd_client_url=${2:?}; shift 2 ;;
    --etcd-cluster) etcd_cluster=${2:?}; shift 2 ;;
    --etcd-data-dir) etcd_data_dir=${2:?}; shift 2 ;;
    --ca-dir) ca_dir=${2:?}; shift 2 ;;
    *) echo "make-host-tree: unknown option $1" >&2; exit 2 ;;
  esac
done
case $role in
  ''|master|node|infra|etcd) ;;
  *) echo "make-host-tree: --role is master, node, infra or etcd, not $role" >&2; exit 2 ;;
esac
if [ -z "$role" ] && [ "$host$first_master$etcd_name$ca_dir" != "master-0.example.com0" ]; then
  echo "make-host-tree: --host, --first-master, --etcd-*, --ca-dir need --role" >&2; exit 2
fi
[ "$role" = etcd ] && [ -z "$etcd_name" ] && etcd_name=$host
: "${etcd_peer_url:=https://$etcd_ip:2380}" "${etcd_client_url:=https://$etcd_ip:2379}"
: "${etcd_cluster:=$etcd_name=$etcd_peer_url}"
mkdir -p "$root"
root=$(cd "$root" && pwd)
umask 022

d() { mkdir -p "$root$1"; }
# f PATH MODE <<content
f() { d "$(dirname "$1")"; cat > "$root$1"; chmod "$2" "$root$1"; }

# --- Certificates: one cluster CA, one etcd CA, leaf certs signed by them ---------
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
have_openssl=1; command -v openssl >/dev/null || have_openssl=0
mkca() { # name cn
  if [ -n "$ca_dir" ] && [ -f "$ca_dir/$1.crt" ] && [ -f "$ca_dir/$1.key" ]; then
    cp "$ca_dir/$1.crt" "$ca_dir/$1.key" "$tmp/"; return
  fi
  if [ $have_openssl = 1 ]; then
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 3650 \
      -subj "/CN=$2" -keyout "$tmp/$1.key" -out "$tmp/$1.crt" 2>/dev/null
  else
    printf -- '-----BEGIN CERTIFICATE-----\nZmFrZSBjYSAlcwo=\n-----END CERTIFICATE-----\n' "$2" > "$tmp/$1.crt"
    printf -- '-----BEGIN PRIVATE KEY-----\nZmFrZSBrZXkK\n-----END PRIVATE KEY-----\n' > "$tmp/$1.key"
  fi
  if [ -n "$ca_dir" ]; then
    mkdir -p "$ca_dir"; cp "$tmp/$1.crt" "$tmp/$1.key" "$ca_dir/"
  fi
}
leaf() { # name cn ca
  if [ $have_openssl = 1 ]; then
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj "/CN=$2" \
      -keyout "$tmp/$1.key" -out "$tmp/$1.csr" 2>/dev/null
    # X.509 v3 with SANs, as openshift-ansible issues them.
    printf 'basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth,clientAuth\nsubjectAltName=DNS:%s,DNS:localhost,IP:%s,IP:127.0.0.1\n' "$2" "$etcd_ip" > "$tmp/$1.ext"
    openssl x509 -req -in "$tmp/$1.csr" -CA "$tmp/$3.crt" -CAkey "$tmp/$3.key" \
      -CAcreateserial -days 730 -extfile "$tmp/$1.ext" -out "$tmp/$1.crt" 2>/dev/null
  else
    cp "$tmp/$3.crt" "$tmp/$1.crt"; cp "$tmp/$3.key" "$tmp/$1.key"; echo csr > "$tmp/$1.csr"
  fi
}
[ $have_openssl = 1 ] || echo "make-host-tree: openssl not found; writing placeholder PEM files" >&2
mkca ca "openshift-signer@1700000000"
mkca etcdca "etcd-signer@1700000000"
mkca signer "openshift-service-serving-signer@1700000000"
for n in admin master.server master.kubelet-client master.proxy-client openshift-master \
         master.etcd-client openshift-router registry etcd.server server node; do
  leaf "$n" "$n" ca
done
leaf peer "$host" etcdca; leaf etcdserver "$host" etcdca; leaf flannel "flannel" etcdca

put() { # src dst mode
  d "$(dirname "$2")"; cp "$tmp/$1" "$root$2"; chmod "$3" "$root$2"; }

# --- /etc basics --------------------------------------------------------------------
echo "$host" | f /etc/hostname 0644
f /etc/os-release 0644 <<'X'
NAME="Red Hat Enterprise Linux Server"
VERSION="7.9 (Maipo)"
ID="rhel"
VERSION_ID="7.9"
PRETTY_NAME="Red Hat Enterprise Linux Server 7.9 (Maipo)"
X
echo "Red Hat Enterprise Linux Server release 7.9 (Maipo)" | f /etc/redhat-release 0644
f /etc/selinux/config 0644 <<'X'
SELINUX=enforcing
SELINUXTYPE=targeted
X
# The accounts of a RHEL 7.9 master: the base system's, and the etcd user that the etcd
# rpm's %pre creates (useradd -r: the next free system id, 993/990 on this host).
# `snapshot --root` names owners from these files, not from the machine running it.
f /etc/passwd 0644 <<'X'
root:x:0:0:root:/root:/bin/bash
bin:x:1:1:bin:/bin:/sbin/nologin
daemon:x:2:2:daemon:/sbin:/sbin/nologin
adm:x:3:4:adm:/var/adm:/sbin/nologin
lp:x:4:7:lp:/var/spool/lpd:/sbin/nologin
sync:x:5:0:sync:/sbin:/bin/sync
shutdown:x:6:0:shutdown:/sbin:/sbin/shutdown
halt:x:7:0:halt:/sbin:/sbin/halt
mail:x:8:12:mail:/var/spool/mail:/sbin/nologin
operator:x:11:0:operator:/root:/sbin/nologin
games:x:12:100:games:/usr/games:/sbin/nologin
ftp:x:14:50:FTP User:/var/ftp:/sbin/nologin
nobody:x:99:99:Nobody:/:/sbin/nologin
systemd-network:x:192:192:systemd Network Management:/:/sbin/nologin
dbus:x:81:81:System message bus:/:/sbin/nologin
polkitd:x:999:998:User for polkitd:/:/sbin/nologin
sshd:x:74:74:Privilege-separated SSH:/var/empty/sshd:/sbin/nologin
postfix:x:89:89::/var/spool/postfix:/sbin/nologin
chrony:x:998:996::/var/lib/chrony:/sbin/nologin
tss:x:59:59:Account used by the trousers package to sandbox the tcsd daemon:/dev/null:/sbin/nologin
rpc:x:32:32:Rpcbind Daemon:/var/lib/rpcbind:/sbin/nologin
rpcuser:x:29:29:RPC Service User:/var/lib/nfs:/sbin/nologin
nfsnobody:x:65534:65534:Anonymous NFS User:/var/lib/nfs:/sbin/nologin
etcd:x:993:990:etcd user:/var/lib/etcd:/sbin/nologin
cloud-user:x:1000:1000:Cloud User:/home/cloud-user:/bin/bash
X
f /etc/group 0644 <<'X'
root:x:0:
bin:x:1:
daemon:x:2:
sys:x:3:
adm:x:4:cloud-user
tty:x:5:
disk:x:6:
lp:x:7:
mem:x:8:
kmem:x:9:
wheel:x:10:cloud-user
cdrom:x:11:
mail:x:12:postfix
man:x:15:
dialout:x:18:
floppy:x:19:
games:x:20:
tape:x:33:
video:x:39:
ftp:x:50:
lock:x:54:
audio:x:63:
nobody:x:99:
users:x:100:
utmp:x:22:
utempter:x:35:
input:x:999:
systemd-journal:x:190:
systemd-network:x:192:
dbus:x:81:
polkitd:x:998:
ssh_keys:x:997:
sshd:x:74:
postdrop:x:90:
postfix:x:89:
chrony:x:996:
tss:x:59:
rpc:x:32:
rpcuser:x:29:
nfsnobody:x:65534:
dockerroot:x:995:
cgred:x:994:
etcd:x:990:
cloud-user:x:1000:
X

# --- Role trees (--role): what openshift-ansible release-3.11 lays down per host ------
# Read from openshift-ansible release-3.11: roles/openshift_node_group
# (templates/node-config.yaml.j2: the node config map, synced to
# /etc/origin/node/node-config.yaml; labels from openshift_facts' openshift_node_groups),
# roles/openshift_node (bootstrap.yml: KUBECONFIG=/etc/origin/node/bootstrap.kubeconfig in
# /etc/sysconfig/atomic-openshift-node; config.yml: /etc/origin/node/pods 0755;
# distribute_bootstrap.yml: bootstrap.kubeconfig from the first master), the kubelet's
# certificate rotation (cert-dir /etc/origin/node/certificates, rotate-certificates),
# roles/openshift_control_plane (files/apiserver.yaml, controller.yaml static pods;
# master.env) and roles/etcd (templates/etcd.conf.j2; the CA in /etc/etcd/ca and the
# per-member certificates in /etc/etcd/generated_certs on the first master only).
# SELinux: openshift-ansible sets no file type under /etc (its only setype/chcon is
# svirt_sandbox_file_t on the etcd data directory, roles/etcd/tasks/backup), so every
# path gets what RHEL 7's targeted policy gives it: etc_t under /etc, cert_t under
# /etc/pki, and the few types of the legacy tree below.
node_kubeconfig() { # user server: the kubelet's kubeconfigs carry the client cert inline
  kubeconfig "$1" "$2" | sed "s/master-0-example-com:8443/${master_api//./-}:8443/g"
}
write_node_config() { # labels...
  local labels=''
  for l in "$@"; do labels="$labels  - $l"$'\n'; done
  f $n/node-config.yaml 0644 <<X
kind: NodeConfig
apiVersion: v1
authConfig:
  authenticationCacheSize: 1000
  authenticationCacheTTL: 5m
  authorizationCacheSize: 1000
  authorizationCacheTTL: 5m
dnsBindAddress: "127.0.0.1:53"
dnsDomain: cluster.local
dnsIP: 0.0.0.0
dnsNameservers: null
dnsRecursiveResolvConf: /etc/origin/node/resolv.conf
dockerConfig:
  dockerShimRootDirectory: /var/lib/dockershim
  dockerShimSocket: /var/run/dockershim.sock
  execHandlerName: native
enableUnidling: true
imageConfig:
  format: "registry.redhat.io/openshift3/ose-\${component}:\${version}"
  latest: false
iptablesSyncPeriod: "30s"
kubeletArguments:
  pod-manifest-path:
  - /etc/origin/node/pods
  bootstrap-kubeconfig:
  - /etc/origin/node/bootstrap.kubeconfig
  feature-gates:
  - RotateKubeletClientCertificate=true,RotateKubeletServerCertificate=true
  rotate-certificates:
  - "true"
  cert-dir:
  - /etc/origin/node/certificates
  node-labels:
${labels}  enable-controller-attach-detach:
  - 'true'
masterClientConnectionOverrides:
  acceptContentTypes: application/vnd.kubernetes.protobuf,application/json
  burst: 40
  contentType: application/vnd.kubernetes.protobuf
  qps: 20
masterKubeConfig: node.kubeconfig
networkConfig:
  mtu: 1450
  networkPluginName: redhat/openshift-ovs-subnet
servingInfo:
  bindAddress: 0.0.0.0:10250
  bindNetwork: tcp4
  clientCA: client-ca.crt
proxyArguments:
  cluster-cidr:
    - 10.128.0.0/14
volumeConfig:
  localQuota:
    perFSGroup: null
volumeDirectory: /var/lib/origin/openshift.local.volumes
X
}
role_node_files() { # node group name, labels...
  local group=$1; shift
  n=/etc/origin/node
  d $n; chmod 0700 "$root$n"
  d $n/pods; chmod 0755 "$root$n/pods"
  node_kubeconfig system:serviceaccount:openshift-infra:node-bootstrapper "https://$master_api:8443" | f $n/bootstrap.kubeconfig 0600
  node_kubeconfig "system:node:$host" "https://$master_api:8443" | f $n/node.kubeconfig 0600
  put ca.crt $n/client-ca.crt 0644
  write_node_config "$@"
  printf 'nameserver %s\nsearch cluster.local example.com\n' 192.168.55.1 | f $n/resolv.conf 0644
  # The kubelet's rotated certificates: dated PEM files (certificate and key in one),
  # and *-current.pem ABSOLUTE symlinks to the newest (client-go's certificate store).
  local c=$n/certificates stamp=2026-10-15-09-30-00
  d $c; chmod 0755 "$root$c"
  cat "$tmp/node.crt" "$tmp/node.key" | f "$c/kubelet-client-$stamp.pem" 0600
  cat "$tmp/server.crt" "$tmp/server.key" | f "$c/kubelet-server-$stamp.pem" 0600
  ln -s "$c/kubelet-client-$stamp.pem" "$root$c/kubelet-client-current.pem"
  ln -s "$c/kubelet-server-$stamp.pem" "$root$c/kubelet-server-current.pem"
  f /etc/sysconfig/atomic-openshift-node 0644 <<X
OPTIONS=
DEBUG_LOGLEVEL=2
IMAGE_VERSION=v3.11
KUBECONFIG=/etc/origin/node/bootstrap.kubeconfig
BOOTSTRAP_CONFIG_NAME=$group
X
  put ca.crt /etc/pki/ca-trust/source/anchors/openshift-ca.crt 0644
  put ca.crt "/etc/docker/certs.d/docker-registry.default.svc:5000/node-client-ca.crt" 0644
  f /etc/dnsmasq.d/origin-dns.conf 0644 <<'X'
no-resolv
domain-needed
no-negcache
max-cache-ttl=1
enable-dbus
dns-forward-max=10000
cache-size=10000
bind-dynamic
min-port=1024
except-interface=lo
X
  echo "server=192.168.55.1" | f /etc/dnsmasq.d/origin-upstream-dns.conf 0644
}
role_master_files() {
  m=/etc/origin/master
  put ca.crt $m/ca.crt 0644; put ca.key $m/ca.key 0600
  cat "$tmp/ca.crt" "$tmp/signer.crt" > "$tmp/ca-bundle.crt"; put ca-bundle.crt $m/ca-bundle.crt 0644
  put signer.crt $m/service-signer.crt 0644; put signer.key $m/service-signer.key 0600
  for c in master.proxy-client master.server master.kubelet-client admin master.etcd-client; do
    put $c.crt $m/$c.crt 0644; put $c.key $m/$c.key 0600
  done
  put etcdca.crt $m/master.etcd-ca.crt 0644
  put signer.key $m/serviceaccounts.private.key 0600
  openssl_pub | f $m/serviceaccounts.public.key 0644
  kubeconfig system:admin "https://$host:8443" | f $m/admin.kubeconfig 0600
  kubeconfig system:openshift-master "https://$host:8443" | f $m/openshift-master.kubeconfig 0600
  node_kubeconfig system:serviceaccount:openshift-infra:node-bootstrapper "https://$master_api:8443" | f $m/bootstrap.kubeconfig 0600
  f $m/htpasswd 0600 <<'X'
admin:$apr1$5qS1lD7Y$3yYbHLnJq6MbTOS0u9vqC1
X
  f $m/session-secrets.yaml 0600 <<'X'
apiVersion: v1
kind: SessionSecrets
secrets:
- authentication: "q8Jx1m3bT2lV0s7aW9cE4rY6uI5oP3kZ"
  encryption: "Hs7dK2mQ9wX4bN1vC6zL8pR3tY5uE0aJ"
X
  printf 'DEBUG_LOGLEVEL=2\n' | f $m/master.env 0644
  f $m/master-config.yaml 0600 <<X
apiVersion: v1
kind: MasterConfig
etcdClientInfo:
  ca: master.etcd-ca.crt
  certFile: master.etcd-client.crt
  keyFile: master.etcd-client.key
  urls:
$(for u in $etcd_client_urls; do echo "  - $u"; done)
kubeletClientInfo:
  ca: ca-bundle.crt
  certFile: master.kubelet-client.crt
  keyFile: master.kubelet-client.key
  port: 10250
masterPublicURL: https://$master_api:8443
servingInfo:
  bindAddress: 0.0.0.0:8443
  certFile: master.server.crt
  clientCA: ca.crt
  keyFile: master.server.key
X
  local p=/etc/origin/node/pods
  f $p/apiserver.yaml 0600 <<'X'
kind: Pod
apiVersion: v1
metadata:
  name: master-api
  namespace: kube-system
  labels: {openshift.io/control-plane: "true", openshift.io/component: api}
spec:
  hostNetwork: true
  priorityClassName: system-node-critical
  containers:
  - name: api
    image: registry.redhat.io/openshift3/ose-control-plane:v3.11
    command: ["/bin/bash", "-c"]
    args: ["exec openshift start master api --config=/etc/origin/master/master-config.yaml --loglevel=${DEBUG_LOGLEVEL:-2}"]
X
  f $p/controller.yaml 0600 <<'X'
kind: Pod
apiVersion: v1
metadata:
  name: master-controllers
  namespace: kube-system
  labels: {openshift.io/control-plane: "true", openshift.io/component: controllers}
spec:
  hostNetwork: true
  priorityClassName: system-node-critical
  containers:
  - name: controllers
    image: registry.redhat.io/openshift3/ose-control-plane:v3.11
    args: ["exec openshift start master controllers --config=/etc/origin/master/master-config.yaml --listen=https://0.0.0.0:8444"]
X
  if [ -n "$etcd_name" ]; then
    f $p/etcd.yaml 0600 <<'X'
kind: Pod
apiVersion: v1
metadata:
  name: master-etcd
  namespace: kube-system
  labels: {openshift.io/control-plane: "true", openshift.io/component: etcd}
spec:
  hostNetwork: true
  priorityClassName: system-node-critical
  containers:
  - name: etcd
    image: registry.redhat.io/rhel7/etcd:3.2.28
    workingDir: /var/lib/etcd
    command: ["/bin/sh", "-c"]
    args: ["#!/bin/sh\nset -o allexport\nsource /etc/etcd/etcd.conf\nexec etcd"]
    volumeMounts:
    - {mountPath: /etc/etcd/, name: master-config, readOnly: true}
    - {mountPath: /var/lib/etcd/, name: master-data}
X
  fi
}
role_etcd_files() {
  e=/etc/etcd
  f $e/etcd.conf 0644 <<X
ETCD_NAME=$etcd_name
ETCD_LISTEN_PEER_URLS=$etcd_peer_url
ETCD_DATA_DIR=$etcd_data_dir
#ETCD_WAL_DIR=
#ETCD_SNAPSHOT_COUNT=10000
ETCD_HEARTBEAT_INTERVAL=500
ETCD_ELECTION_TIMEOUT=2500
ETCD_LISTEN_CLIENT_URLS=$etcd_client_url
#ETCD_MAX_SNAPSHOTS=5
#ETCD_MAX_WALS=5
#ETCD_CORS=


#[cluster]
ETCD_INITIAL_ADVERTISE_PEER_URLS=$etcd_peer_url
ETCD_INITIAL_CLUSTER=$etcd_cluster
ETCD_INITIAL_CLUSTER_STATE=new
ETCD_INITIAL_CLUSTER_TOKEN=etcd-cluster-1
ETCD_ADVERTISE_CLIENT_URLS=$etcd_client_url
ETCD_QUOTA_BACKEND_BYTES=4294967296

#[security]
ETCD_TRUSTED_CA_FILE=/etc/etcd/ca.crt
ETCD_CLIENT_CERT_AUTH=true
ETCD_CERT_FILE=/etc/etcd/server.crt
ETCD_KEY_FILE=/etc/etcd/server.key
ETCD_PEER_TRUSTED_CA_FILE=/etc/etcd/ca.crt
ETCD_PEER_CLIENT_CERT_AUTH=true
ETCD_PEER_CERT_FILE=/etc/etcd/peer.crt
ETCD_PEER_KEY_FILE=/etc/etcd/peer.key
X
  put etcdca.crt $e/ca.crt 0600
  put peer.crt $e/peer.crt 0600; put peer.key $e/peer.key 0600
  put etcdserver.crt $e/server.crt 0600; put etcdserver.key $e/server.key 0600
  chmod 0700 "$root$e"
}
role_first_master_files() {
  echo 0B | f /etc/origin/master/ca.serial.txt 0644
  e=/etc/etcd
  put etcdca.crt $e/ca/ca.crt 0644; put etcdca.key $e/ca/ca.key 0600
  echo 01 | f $e/ca/serial 0644; : | f $e/ca/index.txt 0644
  printf '[ req ]\ndefault_bits = 2048\ndistinguished_name = req_distinguished_name\n[ req_distinguished_name ]\n' | f $e/ca/openssl.cnf 0644
  d $e/ca/certs; d $e/ca/crl; d $e/ca/fragments
  local member
  for member in $etcd_members; do
    # The first master issues every member's certificates (roles/etcd/tasks/certificates).
    leaf "peer-$member" "$member" etcdca; leaf "server-$member" "$member" etcdca
    put "peer-$member.crt" "$e/generated_certs/etcd-$member/peer.crt" 0644
    put "peer-$member.key" "$e/generated_certs/etcd-$member/peer.key" 0600
    put "server-$member.crt" "$e/generated_certs/etcd-$member/server.crt" 0644
    put "server-$member.key" "$e/generated_certs/etcd-$member/server.key" 0600
    put etcdca.crt "$e/generated_certs/etcd-$member/ca.crt" 0644
  done
  put master.etcd-client.crt "$e/generated_certs/openshift-master-$host/master.etcd-client.crt" 0644
  put master.etcd-client.key "$e/generated_certs/openshift-master-$host/master.etcd-client.key" 0600
  chmod 0700 "$root$e"
}
host_role_tree() {
  master_api=$host
  # The members named in --etcd-cluster, and their client URLs (port 2379 on the peer's
  # host), which master-config.yaml lists.
  etcd_members=$(tr ',' '\n' <<<"$etcd_cluster" | sed -n 's/=.*//p' | grep -v '^$' || true)
  etcd_client_urls=$(tr ',' '\n' <<<"$etcd_cluster" | sed -n 's/^[^=]*=//p' | sed 's/:2380$/:2379/')
  [ -n "$etcd_client_urls" ] || etcd_client_urls=$etcd_client_url
  case $role in
    master) role_node_files node-config-master 'node-role.kubernetes.io/master=true'
            role_master_files ;;
    infra) role_node_files node-config-infra 'node-role.kubernetes.io/infra=true' ;;
    node) role_node_files node-config-compute 'node-role.kubernetes.io/compute=true' ;;
    etcd) ;;
  esac
  [ -n "$etcd_name" ] && role_etcd_files
  if [ $first_master = 1 ]; then
    [ "$role" = master ] || { echo "make-host-tree: --first-master needs --role master" >&2; exit 2; }
    role_first_master_files
  fi
  f /etc/sysconfig/docker 0644 <<'X'
OPTIONS=' --selinux-enabled --log-driver=journald --signature-verification=False'
X
  printf 'NETWORKING=yes\nHOSTNAME=%s\n' "$host" | f /etc/sysconfig/network 0644
  ln -sfn ../selinux/config "$root/etc/sysconfig/selinux"
  find "$root" -exec touch -h -d '2026-11-01 10:00:00.123456789 UTC' {} +
  if [ "$(id -u)" != 0 ]; then
    echo "make-host-tree: not root; skipping owners" >&2
  else
    chown -R 0:0 "$root"
    if [ -d "$root/etc/etcd" ]; then
      chown 993:990 "$root/etc/etcd"
      for k in ca.crt peer.crt peer.key server.crt server.key; do
        [ -e "$root/etc/etcd/$k" ] && chown 993:990 "$root/etc/etcd/$k"
      done
    fi
  fi
  if ! command -v setfattr >/dev/null; then
    echo "make-host-tree: setfattr not found (package attr); skipping SELinux labels" >&2
  elif [ "$(id -u)" != 0 ] || ! setfattr -n security.selinux -v system_u:object_r:etc_t:s0 "$root/etc" 2>/dev/null; then
    echo "make-host-tree: cannot set security.selinux under $root (needs root and xattr support); skipping SELinux labels" >&2
  else
    while IFS= read -r -d '' p; do
      setfattr -h -n security.selinux -v system_u:object_r:etc_t:s0 "$p"
    done < <(find "$root/etc" -print0)
    while IFS= read -r -d '' p; do
      setfattr -h -n security.selinux -v system_u:object_r:cert_t:s0 "$p"
    done < <(find "$root/etc/pki" -print0 2>/dev/null)
    label system_u:object_r:selinux_config_t:s0 /etc/selinux/config
  fi
  echo "make-host-tree: wrote the $role tree of $host: $(find "$root" -type f | wc -l) files under $root"
}
label() { # label path...
  local l=$1; shift
  for p in "$@"; do setfattr -h -n security.selinux -v "$l" "$root$p"; done
}
openssl_pub() { if [ $have_openssl = 1 ]; then openssl pkey -in "$tmp/signer.key" -pubout 2>/dev/null; else echo pub; fi; }
kubeconfig() { # user server
cat <<X
apiVersion: v1
clusters:
- cluster:
    certificate-authority-data: $(base64 -w0 < "$tmp/ca.crt")
    server: $2
  name: master-0-example-com:8443
contexts:
- context:
    cluster: master-0-example-com:8443
    namespace: default
    user: $1/master-0-example-com:8443
  name: default/master-0-example-com:8443/$1
current-context: default/master-0-example-com:8443/$1
kind: Config
preferences: {}
users:
- name: $1/master-0-example-com:8443
  user:
    client-certificate-data: $(base64 -w0 < "$tmp/admin.crt")
    client-key-data: $(base64 -w0 < "$tmp/admin.key")
X
}
if [ -n "$role" ]; then
  host_role_tree
  exit 0
fi

# --- /etc/origin/master --------------------------------------------------------------
m=/etc/origin/master
put ca.crt $m/ca.crt 0644; put ca.key $m/ca.key 0600
cat "$tmp/ca.crt" "$tmp/signer.crt" > "$tmp/ca-bundle.crt"; put ca-bundle.crt $m/ca-bundle.crt 0644
echo 0B | f $m/ca.serial.txt 0644
put signer.crt $m/service-signer.crt 0644; put signer.key $m/service-signer.key 0600
for n in master.proxy-client openshift-master master.server master.kubelet-client admin \
         etcd.server master.etcd-client openshift-router registry; do
  put $n.crt $m/$n.crt 0644; put $n.key $m/$n.key 0600
done
put master.etcd-client.csr $m/master.etcd-client.csr 0644
put etcdca.crt $m/master.etcd-ca.crt 0644
put signer.key $m/serviceaccounts.private.key 0600
openssl_pub | f $m/serviceaccounts.public.key 0644
kubeconfig system:admin https://master-0.example.com:8443 | f $m/admin.kubeconfig 0600
kubeconfig system:openshift-master https://master-0.example.com:8443 | f $m/openshift-master.kubeconfig 0600
f $m/policy.json 0644 <<'X'
{"kind":"List","apiVersion":"v1","items":[]}
X
f $m/scheduler.json 0644 <<'X'
{"apiVersion":"v1","kind":"Policy","predicates":[{"name":"NoVolumeZoneConflict"},{"name":"MaxEBSVolumeCount"},{"name":"MatchNodeSelector"},{"name":"PodFitsResources"}],"priorities":[{"name":"LeastRequestedPriority","weight":1},{"name":"SelectorSpreadPriority","weight":1}]}
X
f $m/htpasswd 0600 <<'X'
admin:$apr1$5qS1lD7Y$3yYbHLnJq6MbTOS0u9vqC1
developer:$apr1$Zs1ykFp1$N.Ks4E0pWe7G/yNd4O5gQ1
X
f $m/session-secrets.yaml 0600 <<'X'
apiVersion: v1
kind: SessionSecrets
secrets:
- authentication: "q8Jx1m3bT2lV0s7aW9cE4rY6uI5oP3kZ"
  encryption: "Hs7dK2mQ9wX4bN1vC6zL8pR3tY5uE0aJ"
X
f $m/master-config.yaml 0600 <<'X'
admissionConfig:
  pluginConfig:
    BuildDefaults:
      configuration:
        apiVersion: v1
        env: []
        kind: BuildDefaultsConfig
        resources: {limits: {}, requests: {}}
apiLevels:
- v1
apiVersion: v1
authConfig:
  requestHeader:
    clientCA: front-proxy-ca.crt
    clientCommonNames: [aggregator-front-proxy]
controllerConfig:
  election: {lockName: openshift-master-controllers}
  serviceServingCert:
    signer: {certFile: service-signer.crt, keyFile: service-signer.key}
etcdClientInfo:
  ca: master.etcd-ca.crt
  certFile: master.etcd-client.crt
  keyFile: master.etcd-client.key
  urls:
  - https://master-0.example.com:2379
etcdStorageConfig:
  kubernetesStoragePrefix: kubernetes.io
  kubernetesStorageVersion: v1
  openShiftStoragePrefix: openshift.io
  openShiftStorageVersion: v1
imageConfig:
  format: registry.redhat.io/openshift3/ose-${component}:${version}
  latest: false
kind: MasterConfig
kubeletClientInfo:
  ca: ca-bundle.crt
  certFile: master.kubelet-client.crt
  keyFile: master.kubelet-client.key
  port: 10250
kubernetesMasterConfig:
  apiServerArguments:
    experimental-encryption-provider-config:
    - /etc/origin/master/encryption-config.yaml
    storage-backend:
    - etcd3
masterPublicURL: https://master-0.example.com:8443
networkConfig:
  clusterNetworks:
  - cidr: 10.128.0.0/14
    hostSubnetLength: 9
  networkPluginName: redhat/openshift-ovs-subnet
  serviceNetworkCIDR: 172.30.0.0/16
oauthConfig:
  identityProviders:
  - challenge: true
    login: true
    mappingMethod: claim
    name: htpasswd_auth
    provider:
      apiVersion: v1
      file: /etc/origin/master/htpasswd
      kind: HTPasswdPasswordIdentityProvider
  masterPublicURL: https://master-0.example.com:8443
  sessionConfig: {sessionSecretsFile: /etc/origin/master/session-secrets.yaml}
servingInfo:
  bindAddress: 0.0.0.0:8443
  certFile: master.server.crt
  clientCA: ca.crt
  keyFile: master.server.key
X
# Keys that decrypt every Secret stored in etcd (the 3.11 guide's "Encrypting data at
# datastore layer"; master-config.yaml's experimental-encryption-provider-config).
f $m/encryption-config.yaml 0600 <<'X'
kind: EncryptionConfig
apiVersion: v1
resources:
  - resources:
    - secrets
    providers:
    - aescbc:
        keys:
        - name: key1
          secret: c2VjcmV0IGlzIHNlY3VyZSwgb3IgaXMgaXQ/Cg==
    - identity: {}
X
g=/etc/origin/generated-configs/master-master-0.example.com
put master.server.crt $g/master.server.crt 0644; put master.server.key $g/master.server.key 0600
f /etc/origin/cloudprovider/openstack.conf 0640 <<'X'
[Global]
auth-url = https://keystone.example.com:5000/v3
username = openshift
password = changeme
tenant-name = ocp
domain-name = Default
X

# --- /etc/origin/node (masters are nodes too) ---------------------------------------
n=/etc/origin/node
put ca.crt $n/ca.crt 0644
put node.crt "$n/system:node:$host.crt" 0644; put node.key "$n/system:node:$host.key" 0600
kubeconfig "system:node:$host" https://master-0.example.com:8443 | f "$n/system:node:$host.kubeconfig" 0600
put server.crt $n/server.crt 0644; put server.key $n/server.key 0600
f $n/node-dnsmasq.conf 0644 <<'X'
server=/in-addr.arpa/127.0.0.1
server=/cluster.local/127.0.0.1
X
f $n/resolv.conf 0644 <<'X'
nameserver 192.168.55.1
search example.com
X
f $n/node-config.yaml 0644 <<'X'
apiVersion: v1
kind: NodeConfig
dnsBindAddress: 127.0.0.1:53
dnsDomain: cluster.local
dnsIP: 0.0.0.0
dnsRecursiveResolvConf: /etc/origin/node/resolv.conf
iptablesSyncPeriod: 30s
kubeletArguments:
  node-labels: ["node-role.kubernetes.io/master=true"]
masterKubeConfig: node.kubeconfig
networkConfig: {mtu: 1450, networkPluginName: redhat/openshift-ovs-subnet}
servingInfo: {bindAddress: 0.0.0.0:10250, certFile: server.crt, clientCA: client-ca.crt, keyFile: server.key}
X
put flannel.key $n/flannel.etcd-client.key 0600; put flannel.csr $n/flannel.etcd-client.csr 0644
put flannel.crt $n/flannel.etcd-client.crt 0644; put etcdca.crt $n/flannel.etcd-ca.crt 0644
# client-ca.crt is a hard link to ca.crt (same inode, recorded as a hard-link group).
ln "$root$n/ca.crt" "$root$n/client-ca.crt"
p=$n/pods
f $p/apiserver.yaml 0600 <<'X'
apiVersion: v1
kind: Pod
metadata: {name: master-api, namespace: kube-system, labels: {openshift.io/component: api}}
spec:
  hostNetwork: true
  containers:
  - name: api
    image: registry.redhat.io/openshift3/ose-control-plane:v3.11
    command: ["/bin/bash", "-c", "exec openshift start master api --config=/etc/origin/master/master-config.yaml"]
X
f $p/controller.yaml 0600 <<'X'
apiVersion: v1
kind: Pod
metadata: {name: master-controllers, namespace: kube-system}
spec:
  hostNetwork: true
  containers:
  - name: controllers
    image: registry.redhat.io/openshift3/ose-control-plane:v3.11
X
f $p/etcd.yaml 0600 <<'X'
apiVersion: v1
kind: Pod
metadata: {name: master-etcd, namespace: kube-system, labels: {openshift.io/component: etcd}}
spec:
  hostNetwork: true
  containers:
  - name: etcd
    image: registry.redhat.io/rhel7/etcd:3.2.28
    workingDir: /var/lib/etcd
    command: ["/bin/sh", "-c", "source /etc/etcd/etcd.conf && exec etcd"]
    livenessProbe:
      exec:
        command: ["etcdctl", "--cert-file", "/etc/etcd/peer.crt", "--key-file", "/etc/etcd/peer.key", "--ca-file", "/etc/etcd/ca.crt", "-C", "https://192.168.55.8:2379", "cluster-health"]
X

# --- /etc/etcd ---------------------------------------------------------------------
e=/etc/etcd
f $e/etcd.conf 0644 <<X
ETCD_NAME=$host
ETCD_LISTEN_PEER_URLS=https://192.168.55.8:2380
ETCD_DATA_DIR=/var/lib/etcd/
ETCD_HEARTBEAT_INTERVAL=500
ETCD_ELECTION_TIMEOUT=2500
ETCD_LISTEN_CLIENT_URLS=https://192.168.55.8:2379
ETCD_INITIAL_ADVERTISE_PEER_URLS=https://192.168.55.8:2380
ETCD_INITIAL_CLUSTER=$host=https://192.168.55.8:2380
ETCD_INITIAL_CLUSTER_STATE=new
ETCD_INITIAL_CLUSTER_TOKEN=etcd-cluster-1
ETCD_ADVERTISE_CLIENT_URLS=https://192.168.55.8:2379
ETCD_TRUSTED_CA_FILE=/etc/etcd/ca.crt
ETCD_CLIENT_CERT_AUTH=true
ETCD_CERT_FILE=/etc/etcd/server.crt
ETCD_KEY_FILE=/etc/etcd/server.key
ETCD_PEER_TRUSTED_CA_FILE=/etc/etcd/ca.crt
ETCD_PEER_CLIENT_CERT_AUTH=true
ETCD_PEER_CERT_FILE=/etc/etcd/peer.crt
ETCD_PEER_KEY_FILE=/etc/etcd/peer.key
X
# openshift-ansible (roles/etcd, "Validate permissions on certificate files") makes
# the member's certificates and keys 0600 and, where the etcd rpm created the etcd
# user, owned by etcd:etcd, as /etc/etcd itself (0700).
put etcdca.crt $e/ca.crt 0600
put peer.crt $e/peer.crt 0600; put peer.key $e/peer.key 0600
put etcdserver.crt $e/server.crt 0600; put etcdserver.key $e/server.key 0600
chmod 0700 "$root$e"
put etcdca.crt $e/ca/ca.crt 0644; put etcdca.key $e/ca/ca.key 0600
echo 01 | f $e/ca/serial 0644; : | f $e/ca/index.txt 0644
d $e/ca/certs; d $e/ca/crl; d $e/ca/fragments
put peer.crt "$e/generated_certs/etcd-$host/peer.crt" 0644
put peer.key "$e/generated_certs/etcd-$host/peer.key" 0600
put etcdca.crt "$e/generated_certs/etcd-$host/ca.crt" 0644

# --- /etc/sysconfig ------------------------------------------------------------------
s=/etc/sysconfig
f $s/atomic-openshift-node 0644 <<'X'
OPTIONS=
DEBUG_LOGLEVEL=2
IMAGE_VERSION=v3.11
X
f $s/docker 0644 <<'X'
OPTIONS=' --selinux-enabled --log-driver=journald --signature-verification=False'
ADD_REGISTRY='--add-registry registry.redhat.io'
X
echo "DOCKER_NETWORK_OPTIONS=' --mtu=1450'" | f $s/docker-network 0644
echo "DOCKER_STORAGE_OPTIONS=--storage-driver overlay2 " | f $s/docker-storage 0644
printf 'STORAGE_DRIVER=overlay2\nDEVS=/dev/vdb\nVG=docker-vg\n' | f $s/docker-storage-setup 0644
printf 'STORAGE_DRIVER=overlay2\n' | f $s/docker-storage-setup.rpmnew 0644
printf 'FLANNEL_ETCD_ENDPOINTS="https://master-0.example.com:2379"\nFLANNEL_ETCD_PREFIX="/openshift.com/network"\n' | f $s/flanneld 0644
f $s/iptables 0600 <<'X'
*filter
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:OS_FIREWALL_ALLOW - [0:0]
-A INPUT -j OS_FIREWALL_ALLOW
-A OS_FIREWALL_ALLOW -p tcp -m state --state NEW -m tcp --dport 8443 -j ACCEPT
-A OS_FIREWALL_ALLOW -p tcp -m state --state NEW -m tcp --dport 2379 -j ACCEPT
-A OS_FIREWALL_ALLOW -p tcp -m state --state NEW -m tcp --dport 2380 -j ACCEPT
COMMIT
X
printf 'NETWORKING=yes\nHOSTNAME=%s\n' "$host" | f $s/network 0644
# RHEL's /etc/sysconfig/selinux is a relative symlink to ../selinux/config.
ln -sfn ../selinux/config "$root$s/selinux"

# --- networking, trust and registries ------------------------------------------------
f /etc/cni/net.d/80-openshift-network.conf 0644 <<'X'
{"cniVersion": "0.2.0", "name": "openshift-sdn", "type": "openshift-sdn"}
X
f /etc/dnsmasq.conf 0644 <<'X'
conf-dir=/etc/dnsmasq.d,.rpmnew,.rpmsave,.rpmorig
X
f /etc/dnsmasq.d/origin-dns.conf 0644 <<'X'
no-resolv
domain-needed
no-negcache
max-cache-ttl=1
enable-dbus
dns-forward-max=10000
cache-size=10000
bind-dynamic
min-port=1024
except-interface=lo
X
echo "server=192.168.55.1" | f /etc/dnsmasq.d/origin-upstream-dns.conf 0644
echo "server=/in-addr.arpa/127.0.0.1" | f /etc/dnsmasq.d/node-dnsmasq.conf 0644
put ca.crt /etc/pki/ca-trust/source/anchors/openshift-ca.crt 0644
put ca.crt /etc/pki/ca-trust/source/anchors/registry-ca.crt 0644
put ca.crt "/etc/docker/certs.d/docker-registry.default.svc:5000/ca.crt" 0644
f /etc/containers/registries.conf 0644 <<'X'
[registries.search]
registries = ['registry.redhat.io', 'docker.io']
[registries.insecure]
registries = []
X
f /etc/ansible/hosts 0644 <<'X'
[OSEv3:children]
masters
nodes
etcd

[OSEv3:vars]
ansible_ssh_user=root
openshift_deployment_type=openshift-enterprise
openshift_release=v3.11

[masters]
master-0.example.com

[etcd]
master-0.example.com

[nodes]
master-0.example.com openshift_node_group_name='node-config-master-infra'
X
f /etc/yum.repos.d/ose.repo 0644 <<'X'
[rhel-7-server-ose-3.11-rpms]
name=Red Hat OpenShift Container Platform 3.11
baseurl=http://repo.example.com/rhel-7-server-ose-3.11-rpms
enabled=1
gpgcheck=0
X

# --- Fixed times, so two runs of this script produce the same tree ----------------
find "$root" -exec touch -h -d '2026-11-01 10:00:00.123456789 UTC' {} +

# --- Owners, labels, ACLs: need root and xattr support -------------------------------
if [ "$(id -u)" != 0 ]; then
  echo "make-host-tree: not root; skipping owners (/etc/etcd and its certificates owned by etcd, uid 993)" >&2
else
  chown -R 0:0 "$root"
  chown 993:990 "$root$e" "$root$e/ca.crt" "$root$e/peer.crt" "$root$e/peer.key" \
    "$root$e/server.crt" "$root$e/server.key"
fi
if ! command -v setfattr >/dev/null; then
  echo "make-host-tree: setfattr not found (package attr); skipping SELinux labels and xattrs" >&2
elif ! setfattr -n user.ocpvault-probe -v 1 "$root/etc/hostname" 2>/dev/null; then
  echo "make-host-tree: filesystem under $root has no xattr support; skipping labels" >&2
else
  setfattr -x user.ocpvault-probe "$root/etc/hostname"
  if [ "$(id -u)" = 0 ] && setfattr -n security.selinux -v system_u:object_r:etc_t:s0 "$root/etc" 2>/dev/null; then
    while IFS= read -r -d '' p; do
      setfattr -h -n security.selinux -v system_u:object_r:etc_t:s0 "$p"
    done < <(find "$root/etc" -print0)
    label system_u:object_r:cert_t:s0 /etc/pki /etc/pki/ca-trust /etc/pki/ca-trust/source \
      /etc/pki/ca-trust/source/anchors /etc/pki/ca-trust/source/anchors/openshift-ca.crt \
      /etc/pki/ca-trust/source/anchors/registry-ca.crt
    label system_u:object_r:system_conf_t:s0 /etc/sysconfig/iptables
    label system_u:object_r:dnsmasq_etc_t:s0 /etc/dnsmasq.conf
    label system_u:object_r:selinux_config_t:s0 /etc/selinux/config
  else
    echo "make-host-tree: cannot set security.selinux here (needs root); skipping SELinux labels" >&2
  fi
  # An administrator's marker in the user namespace.
  setfattr -n user.backup-note -v "rotated 2026-10" "$root$m/ca.key"
  if command -v setfacl >/dev/null; then
    # Read access for the wheel group on the master config, and a default ACL.
    setfacl -m g:10:r "$root$m/master-config.yaml"
    setfacl -d -m g:10:rx "$root/etc/origin/cloudprovider"
  else
    echo "make-host-tree: setfacl not found (package acl); skipping ACLs" >&2
  fi
fi
echo "make-host-tree: wrote $(find "$root" -type f | wc -l) files under $root"
