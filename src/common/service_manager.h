#pragma once

// Tells the service manager (systemd, Type=notify) how the program is
// doing. Without a service manager watching ($NOTIFY_SOCKET unset), or in
// a build without libsystemd, these do nothing.
namespace anvil {

void notify_ready();      // serving: every socket is listening
void notify_reloading();  // rereading what SIGHUP rereads; notify_ready() when done
void notify_stopping();   // shutting down

}  // namespace anvil
