#include <algorithm>
#include <memory>
#include <optional>
#include <unordered_map>

#include "anvil/anvil.h"
#include "anvil/client.h"

struct anvil_client {
  std::unique_ptr<anvil::Client> client;
  std::unordered_map<anvil::ConnectionId, anvil::SessionInfo, anvil::ConnectionIdHash> infos;
  anvil_kick_callback* callback = nullptr;
  void* context = nullptr;
  anvil_ban_callback* ban_callback = nullptr;
  void* ban_context = nullptr;
};

namespace {

std::optional<anvil::ConnectionId> parse_id(const char* id) {
  return id ? anvil::ConnectionId::parse(id) : std::nullopt;
}

}  // namespace

extern "C" {

anvil_client* anvil_client_new(const char* socket_path, const char* service) {
  if (!service) return nullptr;
  try {
    auto wrapper = std::make_unique<anvil_client>();
    anvil::Client::Options options;
    options.socket_path = socket_path ? socket_path : "";
    options.service = service;
    wrapper->client = std::make_unique<anvil::Client>(options);
    anvil_client* raw = wrapper.get();
    wrapper->client->set_kick_handler(
        [raw](const std::vector<anvil::ConnectionId>& ids, const std::string& reason) {
          std::vector<anvil::ConnectionId> dropped;
          for (const auto& id : ids) {
            if (raw->callback && raw->callback(raw->context, id.to_hex().c_str(), reason.c_str())) {
              dropped.push_back(id);
              raw->infos.erase(id);
            }
          }
          return dropped;
        });
    wrapper->client->set_ban_handler(
        [raw](const anvil::ConnectionId& id, const std::string& reason) {
          raw->infos.erase(id);
          if (raw->ban_callback)
            raw->ban_callback(raw->ban_context, id.to_hex().c_str(), reason.c_str());
        });
    return wrapper.release();
  } catch (...) {
    return nullptr;
  }
}

void anvil_client_free(anvil_client* client) {
  delete client;
}

int anvil_register(anvil_client* client, const char* user, const char* client_ip,
                   uint16_t client_port, uint16_t local_port, char id_out[ANVIL_ID_SIZE]) {
  if (!client || !id_out) return -1;
  anvil::SessionInfo info;
  info.user = user ? user : "";
  info.client_ip = client_ip ? client_ip : "";
  info.client_port = client_port;
  info.local_port = local_port;
  anvil::ConnectionId id = client->client->register_session(info);
  if (id.is_zero()) return -1;
  client->infos[id] = info;
  std::string hex = id.to_hex();
  std::copy(hex.begin(), hex.end(), id_out);
  id_out[hex.size()] = '\0';
  return 0;
}

int anvil_set_user(anvil_client* client, const char* id, const char* user) {
  auto parsed = parse_id(id);
  if (!client || !parsed) return -1;
  auto it = client->infos.find(*parsed);
  if (it == client->infos.end()) return -1;
  it->second.user = user ? user : "";
  return client->client->update_session(*parsed, it->second) ? 0 : -1;
}

void anvil_unregister(anvil_client* client, const char* id) {
  auto parsed = parse_id(id);
  if (!client || !parsed) return;
  client->infos.erase(*parsed);
  client->client->unregister_session(*parsed);
}

void anvil_set_kick_callback(anvil_client* client, anvil_kick_callback* callback, void* context) {
  if (!client) return;
  client->callback = callback;
  client->context = context;
}

void anvil_set_ban_callback(anvil_client* client, anvil_ban_callback* callback, void* context) {
  if (!client) return;
  client->ban_callback = callback;
  client->ban_context = context;
}

int anvil_client_fd(const anvil_client* client) {
  return client ? client->client->fd() : -1;
}
int anvil_client_wants_write(const anvil_client* client) {
  return client && client->client->wants_write() ? 1 : 0;
}
int anvil_client_timeout_ms(const anvil_client* client) {
  return client ? client->client->timeout_ms() : -1;
}
void anvil_client_process(anvil_client* client) {
  if (client) client->client->process();
}

}  // extern "C"
