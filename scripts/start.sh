#!/usr/bin/env bash
# Installs what is missing, builds, and starts the system with its default
# configuration:
#   anvild       sockets in /run/anvil
#   Dovecot      a private instance on 127.0.0.1:10143 (IMAP), :10110 (POP3),
#                with one demo user, as the mail server behind the proxy
#   anvil-proxy  127.0.0.1:143 (IMAP, STARTTLS), :993 (IMAPS), :110 (POP3,
#                STLS), :995 (POP3S), registering every connection with anvild
#   anvil-httpd  http://127.0.0.1:8080: web view, JSON and doveadm APIs,
#                /metrics; a key named admin (role kick) is made once and
#                printed with the web view's address
# Where systemd runs, it builds the Debian packages (scripts/package.sh),
# installs them and starts anvild.service, anvil-proxy.service and
# anvil-httpd.service; elsewhere
# (a container without systemd) it installs under /usr/local and starts the
# same programs in the background, logging to /var/log/anvil.
# Settings live in /etc/anvil (written once, kept on later runs). Running it
# again rebuilds and restarts everything.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
if [ -d /run/systemd/system ]; then
  with_systemd=1
  bash scripts/package.sh build-deb
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --reinstall \
    -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
    ./build-deb/anvild_*.deb ./build-deb/anvil-proxy_*.deb ./build-deb/anvil-httpd_*.deb \
    ./build-deb/libanvil1_*.deb ./build-deb/libanvil-dev_*.deb >/dev/null
  sbin=/usr/sbin
else
  with_systemd=
  bash scripts/build.sh build -DANVIL_TESTS=OFF -DANVIL_BENCH=OFF
  cmake --install build >/dev/null
  sbin=/usr/local/sbin
fi

run_dir=/run/anvil
log_dir=/var/log/anvil
etc=/etc/anvil
state=/var/lib/anvil-demo  # the demo backend's mail and state
mkdir -p "$run_dir" "$log_dir" "$etc/tls" "$state/mail"

stop() {  # pid file, name
  if [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; then
    echo "stopping the running $2 (pid $(cat "$1"))"
    kill "$(cat "$1")"
    for _ in $(seq 50); do kill -0 "$(cat "$1")" 2>/dev/null || break; sleep 0.1; done
  fi
}

# (Re)starts a unit; Type=notify: it returns once the program is ready.
restart_unit() {  # name
  if ! systemctl restart "$1.service"; then
    journalctl -u "$1.service" -n 20 --no-pager >&2 || true
    exit 1
  fi
  echo "$1.service is running; its log: journalctl -u $1"
}

# Starts a program that prints "listening ..." for each listener, in the
# background with its settings from $etc, and waits for that many lines.
start_listener() {  # program, listeners
  setsid "$sbin/$1" -c "$etc/$1.conf" </dev/null >"$run_dir/$1.listening" 2>>"$log_dir/$1.log" &
  echo $! >"$run_dir/$1.pid"
  for _ in $(seq 100); do
    [ "$(wc -l <"$run_dir/$1.listening")" -ge "$2" ] && break
    kill -0 "$(cat "$run_dir/$1.pid")" 2>/dev/null || break
    sleep 0.1
  done
  if [ "$(wc -l <"$run_dir/$1.listening")" -lt "$2" ]; then
    echo "$1 did not start; see $log_dir/$1.log" >&2
    tail -n 5 "$log_dir/$1.log" >&2
    exit 1
  fi
  echo "$1 is running (pid $(cat "$run_dir/$1.pid")), log: $log_dir/$1.log"
}

# --- configuration, written once ----------------------------------------
if [ ! -f "$etc/users" ]; then
  password=$(openssl rand -hex 8)
  (umask 077; echo "demo:{PLAIN}$password" >"$etc/users")
  chown root:dovecot "$etc/users" && chmod 640 "$etc/users"
fi
if [ ! -f "$etc/tls/cert.pem" ]; then
  openssl req -x509 -newkey rsa:2048 -nodes -days 825 -subj "/CN=localhost" \
    -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
    -keyout "$etc/tls/key.pem" -out "$etc/tls/cert.pem" 2>/dev/null
  chmod 600 "$etc/tls/key.pem"
fi
if [ ! -f "$etc/dovecot-backend.conf" ]; then
  cat >"$etc/dovecot-backend.conf" <<CONF
# The mail server behind anvil-proxy: Debian's Dovecot 2.3, loopback only.
instance_name = anvil-backend
base_dir = /run/anvil-dovecot
state_dir = $state/dovecot
log_path = $log_dir/dovecot.log
listen = 127.0.0.1
protocols = imap pop3
ssl = no
disable_plaintext_auth = no
# anvil-proxy tells this Dovecot the real client address (backend_forward_client).
login_trusted_networks = 127.0.0.1
auth_mechanisms = plain
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%u $etc/users
}
userdb {
  driver = static
  args = uid=nobody gid=nogroup home=$state/mail/%u
}
mail_location = maildir:~/Maildir
service imap-login {
  inet_listener imap {
    port = 10143
  }
  inet_listener imaps {
    port = 0
  }
}
service pop3-login {
  inet_listener pop3 {
    port = 10110
  }
  inet_listener pop3s {
    port = 0
  }
}
CONF
fi
# The demo's proxy settings replace the packaged ones only while those are
# unchanged: an administrator's edits are kept.
if [ ! -f "$etc/anvil-proxy.conf" ] || cmp -s dist/anvil-proxy.conf "$etc/anvil-proxy.conf"; then
  cat >"$etc/anvil-proxy.conf" <<CONF
# anvil-proxy(8); see docs/anvil-proxy.8.md for every setting.
imap_listen = 127.0.0.1:143
imaps_listen = 127.0.0.1:993
pop3_listen = 127.0.0.1:110
pop3s_listen = 127.0.0.1:995
tls_cert = $etc/tls/cert.pem
tls_key = $etc/tls/key.pem
backend_imap = 127.0.0.1:10143
backend_pop3 = 127.0.0.1:10110
backend_forward_client = yes
anvil_socket = $run_dir/anvil-service
# Behind a load balancer that sends the PROXY protocol header:
# haproxy_trusted_networks = 10.0.0.0/24
CONF
fi
chown nobody:nogroup "$state/mail"
getent group anvil >/dev/null || groupadd --system anvil
# anvil-proxy runs as the user anvil under systemd: it must read the key.
chgrp anvil "$etc/tls/key.pem" && chmod 640 "$etc/tls/key.pem"

# anvil-httpd's keys: the package makes the file (root:anvil, 0640); the
# demo adds a key named admin once and keeps it, readable by root only, to
# print it on every run.
if [ ! -f "$etc/anvil-httpd.conf" ]; then
  cp dist/anvil-httpd.conf "$etc/anvil-httpd.conf"
fi
if [ ! -e "$etc/http-keys" ]; then
  install -m 0640 -o root -g anvil /dev/null "$etc/http-keys"
fi
if ! grep -q '^admin ' "$etc/http-keys" || [ ! -s "$etc/http-admin.key" ]; then
  sed -i '/^admin /d' "$etc/http-keys"
  (umask 077; $sbin/anvil-httpd -c "$etc/anvil-httpd.conf" --new-key admin kick >"$etc/http-admin.key")
fi

# --- anvild -------------------------------------------------------------
# The service socket's group: its members may register sessions
# (docs/security.md). The audit trail goes to $log_dir/audit.log.
stop "$run_dir/anvil-httpd.pid" anvil-httpd
stop "$run_dir/anvil-proxy.pid" anvil-proxy
stop "$run_dir/anvild.pid" anvild
if [ -n "$with_systemd" ]; then
  restart_unit anvild
else
  setsid $sbin/anvild --run-dir "$run_dir" </dev/null >>"$log_dir/anvild.log" 2>&1 &
  echo $! >"$run_dir/anvild.pid"
  for _ in $(seq 100); do anvilctl who >/dev/null 2>&1 && break; sleep 0.1; done
  if ! anvilctl who >/dev/null 2>&1; then
    echo "anvild did not start; see $log_dir/anvild.log" >&2
    tail -n 20 "$log_dir/anvild.log" >&2
    exit 1
  fi
  echo "anvild is running (pid $(cat "$run_dir/anvild.pid")), log: $log_dir/anvild.log"
fi

# --- Dovecot behind the proxy -------------------------------------------
# The backend runs from its base_dir; earlier versions of this script put
# it in /run/anvil/dovecot, which systemd now owns for anvild.
for backend_pid in "$(sed -n 's/^base_dir = //p' "$etc/dovecot-backend.conf")/master.pid" \
                   "$run_dir/dovecot/master.pid"; do
  if [ -f "$backend_pid" ] && kill -0 "$(cat "$backend_pid")" 2>/dev/null; then
    kill "$(cat "$backend_pid")"
    for _ in $(seq 50); do [ -f "$backend_pid" ] || break; sleep 0.1; done
  fi
done
# Dovecot's processes keep the descriptors they start with: give them files,
# not this script's output, which may be a pipe someone waits on.
if ! dovecot -c "$etc/dovecot-backend.conf" </dev/null >>"$log_dir/dovecot.log" 2>&1; then
  echo "Dovecot did not start; see $log_dir/dovecot.log" >&2
  tail -n 5 "$log_dir/dovecot.log" >&2
  exit 1
fi
echo "Dovecot (the backend) is running on 127.0.0.1:10143 and :10110, log: $log_dir/dovecot.log"

# --- anvil-proxy --------------------------------------------------------
if [ -n "$with_systemd" ]; then
  restart_unit anvil-proxy
else
  start_listener anvil-proxy 4
fi

# --- anvil-httpd --------------------------------------------------------
if [ -n "$with_systemd" ]; then
  restart_unit anvil-httpd
else
  start_listener anvil-httpd 1
fi
http_key=$(cat "$etc/http-admin.key")
http_url=http://127.0.0.1:8080
for _ in $(seq 50); do
  curl -sf -o /dev/null -H "Authorization: Bearer $http_key" "$http_url/api/v1/whoami" && break
  sleep 0.1
done

# --- show it working ----------------------------------------------------
password=$(sed -n 's/^demo:{PLAIN}//p' "$etc/users")
ANVIL_DEMO_PASSWORD=$password python3 - <<'PY'
import imaplib, os, subprocess
client = imaplib.IMAP4("127.0.0.1", 143, timeout=10)
client.login("demo", os.environ["ANVIL_DEMO_PASSWORD"])
print("a test login through the proxy, as seen by `anvilctl who -1`:")
print(subprocess.run(["anvilctl", "who", "-1"], capture_output=True, text=True).stdout, end="")
client.logout()
PY
cat <<TEXT

Log in with any IMAP or POP3 client:
  server 127.0.0.1, IMAP port 143 (STARTTLS) or 993 (TLS), POP3 port 110 or 995
  user demo, password $password   (accounts: $etc/users; certificate: $etc/tls/cert.pem)
then watch and cut sessions:
  anvilctl who            anvilctl who -1
  anvilctl kick demo      anvilctl kick 127.0.0.1
or in a browser, the live web view (the key is in the address):
  $http_url/#key=$http_key
and over HTTP with that key (admin, role kick; kept in $etc/http-admin.key):
  curl -H "Authorization: Bearer $http_key" $http_url/api/v1/sessions
  curl -u "doveadm:$http_key" $http_url/doveadm/v1 -d '[["who",{"mask":["demo"]},"t"]]'
  curl -H "Authorization: Bearer $http_key" $http_url/metrics
TEXT
