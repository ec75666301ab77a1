#include "common/service_manager.h"

#ifdef ANVIL_HAVE_SYSTEMD
#include <systemd/sd-daemon.h>
#endif

namespace anvil {
namespace {

void notify(const char* state) {
#ifdef ANVIL_HAVE_SYSTEMD
  // libsystemd's sd_notify: a datagram to $NOTIFY_SOCKET, when it is set.
  // Failing to tell is not a reason to stop serving.
  (void)sd_notify(0, state);
#else
  (void)state;
#endif
}

}  // namespace

void notify_ready() {
  notify("READY=1");
}
void notify_reloading() {
  notify("RELOADING=1");
}
void notify_stopping() {
  notify("STOPPING=1");
}

}  // namespace anvil
