#!/usr/bin/env bash
# Installs what is missing, builds, installs anvil under /usr/local, and
# starts anvild with its default configuration: sockets in /run/anvil, log
# in /var/log/anvil/anvild.log. Restarts anvild if it was running.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
bash scripts/build.sh build -DANVIL_TESTS=OFF
cmake --install build >/dev/null

run_dir=/run/anvil
log_dir=/var/log/anvil
mkdir -p "$run_dir" "$log_dir"
pid_file=$run_dir/anvild.pid
if [ -f "$pid_file" ] && kill -0 "$(cat "$pid_file")" 2>/dev/null; then
  echo "stopping the running anvild (pid $(cat "$pid_file"))"
  kill "$(cat "$pid_file")"
  for _ in $(seq 50); do kill -0 "$(cat "$pid_file")" 2>/dev/null || break; sleep 0.1; done
fi

setsid /usr/local/sbin/anvild --run-dir "$run_dir" </dev/null >>"$log_dir/anvild.log" 2>&1 &
echo $! >"$pid_file"
for _ in $(seq 100); do
  if anvilctl who >/dev/null 2>&1; then
    echo "anvild is running (pid $(cat "$pid_file")), log: $log_dir/anvild.log"
    echo "admin socket: $run_dir/anvil   service socket: $run_dir/anvil-service"
    echo "try: anvilctl who"
    exit 0
  fi
  sleep 0.1
done
echo "anvild did not start; see $log_dir/anvild.log" >&2
tail -n 20 "$log_dir/anvild.log" >&2
exit 1
