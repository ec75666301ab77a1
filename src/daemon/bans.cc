#include "daemon/bans.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "anvil/connection_id.h"
#include "common/line_codec.h"
#include "common/log.h"
#include "common/time_text.h"
#include "common/unix_socket.h"
#include "common/wall_clock.h"

namespace anvil {

Bans::Bans(asio::io_context& io, std::string path, std::size_t max)
    : path_(std::move(path)), max_(max), expiry_(io) {}

std::string ban_line(const Ban& ban) {
  return "BAN\t" + format_ban_line(ban);
}

std::string describe_ban(const Ban& ban) {
  std::string what;
  if (ban.user)
    what += (ban.alt_field.empty() ? "user " : ban.alt_field + " ") + ban.user->pattern();
  if (ban.network) what += (what.empty() ? "" : " from ") + ban.network->to_string();
  return fmt::format("ban {} ({}, {}, reason \"{}\")", ban.id, what,
                     ban.expires ? "until " + format_utc(ban.expires) : "no end",
                     single_line(ban.reason));
}

void Bans::load() {
  if (path_.empty()) return;
  std::ifstream in(path_, std::ios::binary);
  if (!in) {
    if (errno != ENOENT) log_error("cannot read ban_file {}: {}", path_, std::strerror(errno));
    return;
  }
  std::string line;
  std::size_t number = 0;
  std::int64_t now = unix_seconds();
  while (std::getline(in, line)) {
    number++;
    if (number == 1 && line.starts_with("anvil-bans\t")) continue;
    if (line.empty()) continue;
    std::string error;
    auto ban = parse_ban_line(line, &error);
    if (ban && !ban->expired(now)) table_.add(std::move(*ban), &error);
    if (!error.empty()) {
      log_error("ban_file {} line {}: {}; skipped", path_, number, error);
    }
  }
  log_info("{} bans from {}", table_.size(), path_);
  arm_expiry();
}

std::string Bans::save() {
  if (path_.empty()) return "";
  std::string text = ban_file_header();
  for (const Ban* ban : table_.all()) text += format_ban_line(*ban);
  std::filesystem::path path(path_);
  std::error_code ignored;
  if (path.has_parent_path()) std::filesystem::create_directories(path.parent_path(), ignored);
  std::string temporary = path_ + ".new";
  UniqueFd fd(::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
  auto failed = [&](const char* what) {
    std::string error = fmt::format("{} {} failed: {}", what, temporary, std::strerror(errno));
    ::unlink(temporary.c_str());
    return error;
  };
  if (!fd) return failed("creating");
  if (!write_all(fd.get(), text)) return failed("writing");
  if (::fsync(fd.get()) != 0) return failed("syncing");
  fd.reset();
  if (::rename(temporary.c_str(), path_.c_str()) != 0) return failed("renaming");
  UniqueFd dir(::open(path.has_parent_path() ? path.parent_path().c_str() : ".",
                      O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dir) ::fsync(dir.get());
  return "";
}

std::vector<Ban> Bans::from_filter(const SessionFilter& filter, bool force,
                                   std::string* error) const {
  error->clear();
  if (!filter.destinations.empty() || !filter.services.empty() || !filter.pids.empty() ||
      !filter.ids.empty() || filter.started_before) {
    *error =
        "a ban names user masks and networks only (not a destination, service, pid, id "
        "or start time)";
    return {};
  }
  std::vector<std::optional<UserMask>> users(filter.users.begin(), filter.users.end());
  std::vector<std::optional<Cidr>> networks(filter.networks.begin(), filter.networks.end());
  if (users.empty()) users.emplace_back();
  if (networks.empty()) networks.emplace_back();
  std::vector<Ban> bans;
  for (const auto& user : users) {
    for (const auto& network : networks) {
      Ban ban;
      ban.user = user;
      ban.network = network;
      if (user) ban.alt_field = filter.alt_field;
      if (!ban.user && !ban.network) {
        *error = "a ban needs a user mask or a network";
        return {};
      }
      if (ban.matches_everyone() && !force) {
        *error = "this ban would keep everyone out (" +
                 (ban.user ? ban.user->pattern() : ban.network->to_string()) +
                 "); give force to mean it";
        return {};
      }
      bans.push_back(std::move(ban));
    }
  }
  return bans;
}

std::vector<Ban> Bans::add(std::vector<Ban> bans, std::string* error) {
  error->clear();
  if (table_.size() + bans.size() > max_) {
    *error = "too many bans (max_bans=" + std::to_string(max_) + ")";
    return {};
  }
  std::vector<Ban> added;
  for (Ban& ban : bans) {
    ban.id = changed_ ? random_id() : 0;
    ban.shared = false;
    std::uint64_t id = table_.add(ban, error);
    if (id == 0) break;
    ban.id = id;
    added.push_back(ban);
  }
  if (error->empty()) *error = save();
  if (!error->empty()) {
    for (const Ban& ban : added) table_.remove(ban.id);
    save();
    return {};
  }
  for (const Ban& ban : added) {
    log_info("{} set by {}", describe_ban(ban), ban.set_by);
    if (changed_) changed_(ban, true);
  }
  arm_expiry();
  return added;
}

bool Bans::remove(const std::vector<std::uint64_t>& ids, std::string* error) {
  error->clear();
  std::vector<Ban> removed;
  for (std::uint64_t id : ids) {
    if (!table_.find(id)) {
      *error = "no ban " + std::to_string(id);
      return false;
    }
  }
  for (std::uint64_t id : ids) {
    removed.push_back(*table_.find(id));
    table_.remove(id);
  }
  if (std::string problem = save(); !problem.empty()) {
    std::string ignored;
    for (Ban& ban : removed) table_.add(std::move(ban), &ignored);
    *error = problem;
    return false;
  }
  for (const Ban& ban : removed) {
    log_info("{} lifted", describe_ban(ban));
    if (changed_) changed_(ban, false);
  }
  arm_expiry();
  return true;
}

void Bans::share(std::function<void(const Ban&, bool)> changed) {
  changed_ = std::move(changed);
}

std::uint64_t Bans::random_id() const {
  // 2^30 and up, below 2^53 (exact in JSON numbers); taken ones skipped.
  for (;;) {
    std::uint64_t bits = ConnectionId::random().low;
    std::uint64_t id = (1ULL << 30) + bits % ((1ULL << 53) - (1ULL << 30));
    if (!table_.find(id)) return id;
  }
}

bool Bans::apply_shared(Ban ban) {
  if (table_.find(ban.id) || ban.expired(unix_seconds()) || table_.size() >= max_) return false;
  ban.shared = true;
  std::string error;
  Ban copy = ban;
  if (table_.add(std::move(ban), &error) == 0) return false;
  log_info("{} set by {} (from the cluster)", describe_ban(copy), copy.set_by);
  if (std::string problem = save(); !problem.empty()) log_error("ban_file: {}", problem);
  arm_expiry();
  return true;
}

bool Bans::drop_shared(std::uint64_t id) {
  const Ban* ban = table_.find(id);
  if (!ban || !ban->shared) return false;
  log_info("{} lifted (by the cluster)", describe_ban(*ban));
  table_.remove(id);
  if (std::string problem = save(); !problem.empty()) log_error("ban_file: {}", problem);
  arm_expiry();
  return true;
}

void Bans::mark_shared(std::uint64_t id) {
  const Ban* found = table_.find(id);
  if (!found || found->shared) return;
  Ban ban = *found;
  ban.shared = true;
  std::string error;
  table_.remove(id);
  table_.add(std::move(ban), &error);
  if (std::string problem = save(); !problem.empty()) log_error("ban_file: {}", problem);
}

std::uint64_t Bans::renumber(std::uint64_t id) {
  const Ban* found = table_.find(id);
  if (!found) return 0;
  Ban ban = *found;
  table_.remove(id);
  ban.id = random_id();
  std::string error;
  std::uint64_t renumbered = table_.add(std::move(ban), &error);
  log_info("ban {} is ban {} now: the cluster holds another ban under its id", id, renumbered);
  if (std::string problem = save(); !problem.empty()) log_error("ban_file: {}", problem);
  return renumbered;
}

void Bans::arm_expiry() {
  auto next = table_.next_expiry();
  if (!next) {
    expiry_.cancel();
    return;
  }
  std::int64_t wait = std::max<std::int64_t>(0, *next - unix_seconds());
  expiry_.expires_after(std::chrono::seconds(wait));
  expiry_.async_wait([this](const asio::error_code& ec) {
    if (ec) return;
    std::vector<Ban> gone = table_.expire(unix_seconds());
    for (const Ban& ban : gone) log_info("{} expired", describe_ban(ban));
    if (!gone.empty()) {
      if (std::string error = save(); !error.empty()) log_error("ban_file: {}", error);
    }
    arm_expiry();
  });
}

}  // namespace anvil
