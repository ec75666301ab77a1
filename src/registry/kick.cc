#include "registry/kick.h"

#include <array>
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
