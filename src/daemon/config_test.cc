#include "daemon/config.h"

#include <gtest/gtest.h>

#include "common/test_temp_file.h"

namespace anvil {
namespace {

TEST(DaemonConfig, SocketPathsLiveInTheRunDirUnlessAbsolute) {
  DaemonConfig config;
  config.run_dir = "/tmp/x";
  EXPECT_EQ(config.admin_socket_path(), "/tmp/x/anvil");
  EXPECT_EQ(config.service_socket_path(), "/tmp/x/anvil-service");
  EXPECT_EQ(config.set("admin_socket", "/elsewhere/admin"), "");
  EXPECT_EQ(config.admin_socket_path(), "/elsewhere/admin");
}

TEST(DaemonConfig, OverridesParseAndValidate) {
  DaemonConfig config;
  EXPECT_EQ(config.apply_override("kick_timeout_ms = 250"), "");
  EXPECT_EQ(config.kick_timeout.count(), 250);
  EXPECT_EQ(config.apply_override("admin_socket_mode=0660"), "");
  EXPECT_EQ(config.admin_socket_mode, 0660u);
  EXPECT_EQ(config.apply_override("admin_allow_uids=1000, 1001:read"), "");
  EXPECT_EQ(config.admin_access.role_of(1000, {}), Role::kick);
  EXPECT_EQ(config.admin_access.role_of(1001, {}), Role::read);
  EXPECT_EQ(config.admin_access.role_of(1002, {}), Role::none);
  EXPECT_EQ(config.apply_override("admin_allow_groups=nogroup:read"), "");
  EXPECT_EQ(config.admin_access.role_of(1002, {65534}), Role::read);
  EXPECT_EQ(config.admin_access.role_of(1000, {}), Role::kick);  // uids kept
  EXPECT_NE(config.apply_override("admin_allow_uids=1000:admin"), "");
  EXPECT_NE(config.apply_override("admin_allow_uids=no-such-user-here"), "");
  EXPECT_EQ(config.apply_override("service_allow_uids=nobody"), "");
  EXPECT_EQ(config.service_access.role_of(65534, {}), Role::kick);
  EXPECT_NE(config.apply_override("admin_socket_mode=0999"), "");
  EXPECT_NE(config.apply_override("max_line_length=10"), "");
  EXPECT_NE(config.apply_override("kick_timeout_ms=soon"), "");
  EXPECT_NE(config.apply_override("no_such_key=1"), "");
  EXPECT_NE(config.apply_override("novalue"), "");
}

TEST(DaemonConfig, FileWithCommentsAndAnErrorNamingTheLine) {
  TestTempFile file("anvild-config");
  const std::string& path = file.path();
  file.write("# anvild\n\nrun_dir = /tmp/r  # trailing comment\nmax_admin_clients=3\n");
  DaemonConfig config;
  EXPECT_EQ(config.load_file(path), "");
  EXPECT_EQ(config.run_dir, "/tmp/r");
  EXPECT_EQ(config.max_admin_clients, 3u);
  file.write("run_dir = /tmp/r\nbogus line\n");
  std::string error = config.load_file(path);
  EXPECT_NE(error.find(":2:"), std::string::npos) << error;
  EXPECT_NE(config.load_file("/nonexistent/anvild.conf"), "");
}

}  // namespace
}  // namespace anvil
