/* A C service built against an installed libanvil: registers one session
 * for the user given, prints "registered <id>", and waits until anvild
 * kicks it; then prints "kicked <id> <reason>" and exits 0. Exits 1 after
 * 30 seconds without a kick. Usage: register SOCKET USER */
#include <anvil/anvil.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static char session[ANVIL_ID_SIZE];
static int kicked;

static int on_kick(void* context, const char* id, const char* reason) {
  (void)context;
  if (strcmp(id, session) != 0) return 0;
  printf("kicked %s %s\n", id, reason);
  kicked = 1;
  return 1;
}

int main(int argc, char** argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: register SOCKET USER\n");
    return 2;
  }
  anvil_client* client = anvil_client_new(argv[1], "c-service");
  if (client == NULL) return 1;
  anvil_set_kick_callback(client, on_kick, NULL);
  if (anvil_register(client, argv[2], "127.0.0.1", 40000, 143, session) != 0) return 1;
  printf("registered %s\n", session);
  fflush(stdout);
  time_t deadline = time(NULL) + 30;
  while (!kicked && time(NULL) < deadline) {
    struct pollfd watch = {anvil_client_fd(client), POLLIN, 0};
    if (anvil_client_wants_write(client)) watch.events |= POLLOUT;
    int timeout = anvil_client_timeout_ms(client);
    poll(&watch, watch.fd < 0 ? 0 : 1, timeout < 0 || timeout > 100 ? 100 : timeout);
    anvil_client_process(client);
  }
  fflush(stdout);
  anvil_client_free(client);
  return kicked ? 0 : 1;
}
