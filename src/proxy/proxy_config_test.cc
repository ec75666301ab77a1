#include "proxy/proxy_config.h"

#include <gtest/gtest.h>

namespace anvil {
namespace {

TEST(ProxyConfig, SettingsParseAndValidate) {
  ProxyConfig config;
  EXPECT_EQ(config.apply_override("imap_listen = 127.0.0.1:1143, [::1]:1143"), "");
  ASSERT_EQ(config.imap_listen.size(), 2u);
  EXPECT_EQ(config.imap_listen[1].host, "::1");
  EXPECT_EQ(config.apply_override("pop3_listen="), "");
  EXPECT_TRUE(config.pop3_listen.empty());
  EXPECT_EQ(config.apply_override("backend_tls=starttls"), "");
  EXPECT_EQ(config.backend_tls, BackendTls::starttls);
  EXPECT_EQ(config.apply_override("login_timeout=2min"), "");
  EXPECT_EQ(config.login_timeout, std::chrono::minutes(2));
  EXPECT_EQ(config.apply_override("secure_networks=10.0.0.0/8"), "");
  EXPECT_EQ(config.secure_networks.size(), 1u);
  EXPECT_NE(config.apply_override("backend_imap=127.0.0.1"), "");
  EXPECT_NE(config.apply_override("backend_imap=127.0.0.1:0"), "");
  EXPECT_NE(config.apply_override("backend_tls=maybe"), "");
  EXPECT_NE(config.apply_override("login_timeout=5 fortnights"), "");
  EXPECT_NE(config.apply_override("secure_networks=10.0.0.0/33"), "");
  EXPECT_TRUE(config.haproxy_trusted_networks.empty());
  EXPECT_EQ(config.apply_override("haproxy_trusted_networks=192.0.2.0/24, 2001:db8::/32"), "");
  EXPECT_EQ(config.haproxy_trusted_networks.size(), 2u);
  EXPECT_NE(config.apply_override("haproxy_trusted_networks=balancer"), "");
  EXPECT_EQ(config.haproxy_trusted_networks.size(), 2u);  // a bad value changes nothing
  EXPECT_NE(config.apply_override("max_command_size=10"), "");
  EXPECT_NE(config.apply_override("imap_listn=x"), "");
  EXPECT_EQ(config.validate(), "");
  EXPECT_EQ(config.apply_override("imaps_listen=127.0.0.1:993"), "");
  EXPECT_NE(config.validate(), "");  // implicit TLS without a certificate
  EXPECT_EQ(config.apply_override("tls_cert=/x/cert.pem"), "");
  EXPECT_NE(config.validate(), "");  // a certificate without its key
  EXPECT_EQ(config.apply_override("tls_key=/x/key.pem"), "");
  EXPECT_EQ(config.validate(), "");
}

}  // namespace
}  // namespace anvil
