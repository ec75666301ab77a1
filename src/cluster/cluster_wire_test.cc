#include "cluster/cluster_wire.h"

#include <gtest/gtest.h>

namespace anvil::cluster {
namespace {

TEST(ClusterWire, NodeNames) {
  EXPECT_TRUE(valid_node_name("mx1"));
  EXPECT_TRUE(valid_node_name("imap-proxy_02"));
  EXPECT_FALSE(valid_node_name(""));
  EXPECT_FALSE(valid_node_name("a.b"));  // a subject separator
  EXPECT_FALSE(valid_node_name("a*"));
  EXPECT_FALSE(valid_node_name("a>"));
  EXPECT_FALSE(valid_node_name(std::string(65, 'a')));
  EXPECT_TRUE(valid_node_name(default_node_name()));
}

TEST(ClusterWire, RequestRoundTrip) {
  Request request{"17", "mx1", "root uid 0 pid 42", "KICK\tuser=jane\treason=pw\x01tchanged"};
  std::string wire = encode_request(request);
  Request back;
  ASSERT_EQ(decode_request(wire, 4096, &back), "");
  EXPECT_EQ(back.id, "17");
  EXPECT_EQ(back.origin, "mx1");
  EXPECT_EQ(back.on_behalf, "root uid 0 pid 42");
  EXPECT_EQ(back.command, request.command);
}

TEST(ClusterWire, RequestRefusals) {
  Request request{"1", "mx1", "root", "WHO"};
  std::string wire = encode_request(request);
  Request back;
  EXPECT_NE(decode_request(wire, wire.size() - 1, &back), "");                  // over the limit
  EXPECT_NE(decode_request(wire + "WHO\n", 4096, &back), "");                   // two commands
  EXPECT_NE(decode_request(wire.substr(0, wire.size() - 1), 4096, &back), "");  // no LF
  EXPECT_NE(decode_request(encode_request({"1", "mx1", "root", "BAN-ADD\tuser=x"}), 4096, &back),
            "");  // not relayed
  EXPECT_NE(decode_request(encode_request({"1", "m.x", "root", "WHO"}), 4096, &back), "");
  EXPECT_NE(decode_request(encode_request({"1", "mx1", "", "WHO"}), 4096, &back), "");
  EXPECT_NE(decode_request(encode_request({"1", "mx1", "a\nb", "WHO"}), 4096, &back), "");
  EXPECT_NE(decode_request(encode_request({"", "mx1", "root", "WHO"}), 4096, &back), "");
  std::string other_version = wire;
  other_version.replace(other_version.find("\t1\t0\t"), 5, "\t2\t0\t");
  EXPECT_EQ(decode_request(other_version, 4096, &back), "cluster protocol 2.0, not 1.x");
  EXPECT_NE(decode_request("garbage", 4096, &back), "");
  EXPECT_NE(decode_request("", 4096, &back), "");
  EXPECT_NE(decode_request("ANVIL-CLUSTER\t1\t0\trequest\tid=1\tid=2\torigin=a\ton_behalf=x\nWHO\n",
                           4096, &back),
            "");  // a key twice
}

TEST(ClusterWire, ChunksKeepLinesWholeAndInOrder) {
  ReplyChunker chunker("9", "mx2", "abcdef", 300);
  std::vector<std::string> messages;
  std::string expected;
  for (int i = 0; i < 20; i++) {
    std::string line = "SESSION\tuser=u" + std::to_string(i) + "\tservice=imap\n";
    expected += line;
    if (std::string full = chunker.add(line); !full.empty()) messages.push_back(full);
  }
  expected += "END\tcount=20\n";
  chunker.add("END\tcount=20\n");
  messages.push_back(chunker.finish());
  ASSERT_GT(messages.size(), 2u);
  std::string joined;
  for (std::size_t i = 0; i < messages.size(); i++) {
    EXPECT_LE(messages[i].size(), 300u);
    ReplyHeader header;
    std::string_view body;
    ASSERT_EQ(decode_reply(messages[i], &header, &body), "");
    EXPECT_EQ(header.id, "9");
    EXPECT_EQ(header.node, "mx2");
    EXPECT_EQ(header.instance, "abcdef");
    EXPECT_EQ(header.seq, i);
    EXPECT_EQ(header.last, i + 1 == messages.size());
    joined += body;
  }
  EXPECT_EQ(joined, expected);
}

TEST(ClusterWire, ReplyRefusals) {
  ReplyHeader header;
  std::string_view body;
  EXPECT_NE(decode_reply("ANVIL-CLUSTER\t1\t0\treply\tid=1\tnode=a\tinstance=b\tseq=0\tlast=1\nEND",
                         &header, &body),
            "");  // the last line has no LF
  EXPECT_NE(decode_reply("ANVIL-CLUSTER\t1\t0\treply\tid=1\tnode=a\tinstance=b\tseq=-1\tlast=1\n",
                         &header, &body),
            "");
  EXPECT_NE(decode_reply("ANVIL-CLUSTER\t1\t0\treply\tid=1\tnode=a\tinstance=b\tseq=0\tlast=2\n",
                         &header, &body),
            "");
  EXPECT_NE(decode_reply("ANVIL-CLUSTER\t1\t0\tpresence\tnode=a\n", &header, &body), "");
  EXPECT_EQ(decode_reply("ANVIL-CLUSTER\t1\t5\treply\tid=1\tnode=a\tinstance=b\tseq=3\tlast=1"
                         "\tlater=ignored\nEND\n",
                         &header, &body),
            "");  // a newer minor version may add fields
  EXPECT_EQ(header.seq, 3u);
  EXPECT_EQ(body, "END\n");
}

TEST(ClusterWire, Presence) {
  Presence presence{"mx3", "0123456789abcdef", 2000, 12345, false};
  Presence back;
  ASSERT_EQ(decode_presence(encode_presence(presence), &back), "");
  EXPECT_EQ(back.node, "mx3");
  EXPECT_EQ(back.instance, "0123456789abcdef");
  EXPECT_EQ(back.interval_ms, 2000u);
  EXPECT_EQ(back.sessions, 12345u);
  EXPECT_FALSE(back.leaving);
  presence.leaving = true;
  ASSERT_EQ(decode_presence(encode_presence(presence), &back), "");
  EXPECT_TRUE(back.leaving);
  presence.interval_ms = 0;
  EXPECT_NE(decode_presence(encode_presence(presence), &back), "");
  EXPECT_NE(decode_presence(std::string(2000, 'x'), &back), "");
}

TEST(ClusterWire, TagLine) {
  EXPECT_EQ(tag_line("SESSION\tuser=jane\n", "mx1"), "SESSION\tnode=mx1\tuser=jane\n");
  EXPECT_EQ(tag_line("DONE\n", "mx1"), "DONE\tnode=mx1\n");
}

}  // namespace
}  // namespace anvil::cluster
