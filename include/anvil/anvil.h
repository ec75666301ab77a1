/* libanvil's C API: a thin layer over anvil::Client (anvil/client.h) for
 * services written in C. The same rules hold: never blocks; drive it by
 * watching anvil_client_fd() and calling anvil_client_process(). */
#ifndef ANVIL_ANVIL_H
#define ANVIL_ANVIL_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct anvil_client anvil_client;

/* A connection id as 32 hex digits and a NUL. */
#define ANVIL_ID_SIZE 33

/* Called once per connection anvild wants dropped. Return 1 if the service
 * dropped it, 0 if it did not (e.g. it was already gone). */
typedef int anvil_kick_callback(void* context, const char* id, const char* reason);

/* Called when anvild refused to register a session (or a user set on it)
 * because a ban matches it, with the ban's reason: the service should
 * refuse that client. The session is no longer registered. */
typedef void anvil_ban_callback(void* context, const char* id, const char* reason);

/* socket_path may be NULL for the default service socket. NULL on failure. */
anvil_client* anvil_client_new(const char* socket_path, const char* service);
void anvil_client_free(anvil_client* client);

/* Registers a session; writes its id into id_out. client_ip may be NULL or
 * "". Returns 0, or -1 for invalid input. */
int anvil_register(anvil_client* client, const char* user, const char* client_ip,
                   uint16_t client_port, uint16_t local_port, char id_out[ANVIL_ID_SIZE]);
/* Sets the user name of a session (at login). Returns 0, or -1 for an
 * unknown id. */
int anvil_set_user(anvil_client* client, const char* id, const char* user);
void anvil_unregister(anvil_client* client, const char* id);

void anvil_set_kick_callback(anvil_client* client, anvil_kick_callback* callback, void* context);
void anvil_set_ban_callback(anvil_client* client, anvil_ban_callback* callback, void* context);

int anvil_client_fd(const anvil_client* client);          /* -1 while disconnected */
int anvil_client_wants_write(const anvil_client* client); /* 1: watch for POLLOUT */
int anvil_client_timeout_ms(const anvil_client* client);  /* -1: no deadline */
void anvil_client_process(anvil_client* client);

#ifdef __cplusplus
}
#endif

#endif
