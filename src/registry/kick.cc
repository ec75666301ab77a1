#include "registry/kick.h"

#include <array>
#include <map>
#include <utility>

namespace anvil {

namespace {

constexpr std::array<std::pair<KickStatus, std::string_view>, 7> kNames{{
    {KickStatus::kicked, "kicked"},
    {KickStatus::not_dropped, "not-dropped"},
    {KickStatus::timeout, "timeout"},
    {KickStatus::vanished, "vanished"},
    {KickStatus::would_kick, "would-kick"},
    {KickStatus::shared, "shared"},
    {KickStatus::not_signalled, "not-signalled"},
}};

}  // namespace

std::string_view kick_status_name(KickStatus status) {
  for (const auto& [value, name] : kNames) {
    if (value == status) return name;
  }
  return "unknown";
}

std::optional<KickStatus> kick_status_from_name(std::string_view name) {
  for (const auto& [value, text] : kNames) {
    if (text == name) return value;
  }
  return std::nullopt;
}

}  // namespace anvil

namespace anvil {

std::vector<KickGroup> plan_kick(std::size_t count,
                                 const std::function<std::uint64_t(std::size_t)>& owner_of,
                                 const std::function<bool(std::uint64_t)>& by_signal,
                                 const std::function<std::size_t(std::uint64_t)>& held,
                                 bool force) {
  std::map<std::uint64_t, std::vector<std::size_t>> by_owner;
  for (std::size_t i = 0; i < count; i++) by_owner[owner_of(i)].push_back(i);
  std::vector<KickGroup> groups;
  groups.reserve(by_owner.size());
  for (auto& [owner, members] : by_owner) {
    KickGroup group;
    group.owner = owner;
    group.by_signal = by_signal(owner);
    group.spared = group.by_signal && spare_shared_process(members.size(), held(owner), force);
    group.members = std::move(members);
    groups.push_back(std::move(group));
  }
  return groups;
}

}  // namespace anvil
