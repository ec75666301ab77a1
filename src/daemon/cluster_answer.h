// What a cluster request (the admin command CLUSTER) brings back: one
// answer per node. Kept apart from the NATS side so that the admin channel
// and its tests need no NATS.
#pragma once

#include <asio.hpp>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace anvil {

struct NodeAnswer {
  std::string node;
  // answered, error (the node refused or sent garbage: see `error`),
  // timeout (a live node that did not answer in time), expired (no
  // presence within cluster_presence_ttl_ms, and no answer), no-responders
  // (NATS knows nobody of that name), duplicate (two anvild answer to it).
  std::string status;
  std::string error;
  std::string lines;    // answered: the node's admin-protocol lines, each with LF
  std::int64_t ms = 0;  // from the request to the node's last reply
};

struct ClusterAnswer {
  std::string error;              // the request could not go out at all
  std::vector<NodeAnswer> nodes;  // by node name
};

// Asks one node (`node` not empty) or every node to run an admin command
// line; `on_behalf` says who asked, for the nodes' audit trails.
using ClusterAsk = std::function<asio::awaitable<ClusterAnswer>(
    std::string node, std::string command, std::string on_behalf)>;

}  // namespace anvil
