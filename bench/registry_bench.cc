// Registry figures at scale: memory per session and the cost of the common
// questions (exact user, connection id, a /24, a wildcard mask, all of one
// process) over a table of one million sessions.
//
//   build/bench/registry_bench [--sessions=N] [google benchmark flags]
#include <benchmark/benchmark.h>
#include <malloc.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>

#include "registry/session_table.h"

namespace {

std::size_t g_sessions = 1'000'000;
constexpr anvil::OwnerId kOwners = 1000;

std::size_t heap_in_use() {
  struct mallinfo2 info = mallinfo2();
  return info.uordblks + info.hblkhd;  // the heap and its mmapped chunks
}

// user%06d with ~3 sessions per user, from 10.x.y.z, spread over 1000
// processes, a third of them proxied, a tenth with an alternative name.
anvil::Session make_session(std::size_t i) {
  anvil::Session s;
  s.id = anvil::ConnectionId::random();
  s.owner = 1 + i % kOwners;
  s.pid = static_cast<std::int32_t>(10000 + s.owner);
  s.service = i % 2 ? "imap" : "pop3";
  char user[48];
  std::snprintf(user, sizeof user, "user%06zu@example.com", i / 3);
  s.user = user;
  char ip[48];
  std::snprintf(ip, sizeof ip, "10.%zu.%zu.%zu", (i >> 16) & 255, (i >> 8) & 255, i & 255);
  s.client_ip = anvil::IpAddress::parse(ip);
  s.client_port = static_cast<std::uint16_t>(1024 + i % 60000);
  s.local_port = 143;
  if (i % 3 == 0) {
    s.dest_ip = anvil::IpAddress::parse(i % 2 ? "192.168.0.10" : "192.168.0.11");
    s.dest_port = 143;
  }
  if (i % 10 == 0) s.alt_names.push_back({"user_email", std::string(user)});
  s.start_time = 1700000000 + static_cast<std::int64_t>(i);
  return s;
}

struct Fixture {
  std::unique_ptr<anvil::SessionTable> table = std::make_unique<anvil::SessionTable>();
  anvil::ConnectionId some_id;
  double bytes_per_session = 0;
  double build_seconds = 0;

  Fixture() {
    std::size_t before = heap_in_use();
    auto start = std::chrono::steady_clock::now();
    for (std::size_t i = 0; i < g_sessions; i++) {
      anvil::Session s = make_session(i);
      if (i == g_sessions / 2) some_id = s.id;
      table->add(std::move(s));
    }
    build_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    bytes_per_session =
        static_cast<double>(heap_in_use() - before) / static_cast<double>(g_sessions);
    std::printf(
        "registry: %zu sessions, %.0f bytes per session, %.2f s to add them (%.0f adds/s)\n",
        g_sessions, bytes_per_session, build_seconds,
        static_cast<double>(g_sessions) / build_seconds);
  }
};

Fixture& fixture() {
  static Fixture f;
  return f;
}

void run_select(benchmark::State& state, const anvil::SessionFilter& filter) {
  Fixture& f = fixture();
  std::size_t found = 0;
  for (auto _ : state) {  // NOLINT(clang-analyzer-deadcode.DeadStores): benchmark loop
    auto result = f.table->select(filter);
    found = result.size();
    benchmark::DoNotOptimize(result.data());
  }
  state.counters["matches"] = static_cast<double>(found);
  state.counters["candidates"] = static_cast<double>(f.table->candidate_count(filter));
}

void BM_ExactUser(benchmark::State& state) {
  anvil::SessionFilter filter;
  filter.users.emplace_back("USER000123@example.com");
  run_select(state, filter);
}

void BM_ConnectionId(benchmark::State& state) {
  anvil::SessionFilter filter;
  filter.ids.push_back(fixture().some_id);
  run_select(state, filter);
}

void BM_Network24(benchmark::State& state) {
  anvil::SessionFilter filter;
  filter.networks.push_back(*anvil::Cidr::parse("10.3.7.0/24"));
  run_select(state, filter);
}

void BM_UserAndNetwork(benchmark::State& state) {
  anvil::SessionFilter filter;
  filter.users.emplace_back("user000123@example.com");
  filter.networks.push_back(*anvil::Cidr::parse("10.0.0.0/8"));
  run_select(state, filter);
}

// A wildcard is matched against the distinct user names (about a third of
// the sessions here), not against every session.
void BM_WildcardMask(benchmark::State& state) {
  anvil::SessionFilter filter;
  filter.users.emplace_back("user00012?@*");
  run_select(state, filter);
}

void BM_Destination(benchmark::State& state) {
  anvil::SessionFilter filter;
  filter.destinations.push_back(*anvil::IpAddress::parse("192.168.0.10"));
  run_select(state, filter);
}

void BM_AddAndRemove(benchmark::State& state) {
  Fixture& f = fixture();
  std::size_t i = g_sessions;
  for (auto _ : state) {  // NOLINT(clang-analyzer-deadcode.DeadStores): benchmark loop
    anvil::Session s = make_session(i++);
    anvil::ConnectionId id = s.id;
    f.table->add(std::move(s));
    f.table->remove(id);
  }
}

BENCHMARK(BM_ExactUser);
BENCHMARK(BM_ConnectionId);
BENCHMARK(BM_Network24);
BENCHMARK(BM_UserAndNetwork);
BENCHMARK(BM_WildcardMask)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Destination)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_AddAndRemove);

}  // namespace

int main(int argc, char** argv) {
  for (int i = 1; i < argc; i++) {
    if (std::strncmp(argv[i], "--sessions=", 11) == 0) g_sessions = std::stoul(argv[i] + 11);
  }
  benchmark::Initialize(&argc, argv);
  fixture();
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
