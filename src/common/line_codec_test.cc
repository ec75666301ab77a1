#include "common/line_codec.h"

#include <gtest/gtest.h>

namespace anvil {
namespace {

TEST(LineCodec, EscapesEverySpecialByte) {
  std::string raw = std::string("a\tb\nc\rd\001e") + '\0' + "f";
  std::string escaped = escape_field(raw);
  EXPECT_EQ(escaped.find('\t'), std::string::npos);
  EXPECT_EQ(escaped.find('\n'), std::string::npos);
  EXPECT_EQ(escaped.find('\r'), std::string::npos);
  EXPECT_EQ(escaped.find('\0'), std::string::npos);
  EXPECT_EQ(escaped, std::string("a\001tb\001nc\001rd\0011e\0010f"));
  EXPECT_EQ(unescape_field(escaped), raw);
}

// Escaping scans eight bytes at a time: every byte, at every place in and
// around those words, must be escaped exactly as byte by byte.
TEST(LineCodec, EscapesEveryByteAtEveryPlace) {
  auto reference = [](const std::string& raw) {
    std::string out;
    for (char c : raw) {
      const char* codes = "\0011\tt\rr\nn";
      const char* special = c == '\0' ? "0" : nullptr;
      for (int i = 0; i < 8 && special == nullptr; i += 2) {
        if (codes[i] == c) special = codes + i + 1;
      }
      if (special) {
        out += '\001';
        out += *special;
      } else {
        out += c;
      }
    }
    return out;
  };
  for (std::size_t size = 1; size <= 20; size++) {
    for (std::size_t at = 0; at < size; at++) {
      for (int byte = 0; byte < 256; byte++) {
        std::string raw(size, 'x');
        raw[at] = static_cast<char>(byte);
        ASSERT_EQ(escape_field(raw), reference(raw)) << size << " " << at << " " << byte;
        ASSERT_EQ(unescape_field(escape_field(raw)), raw);
      }
    }
  }
}

TEST(LineCodec, UnknownEscapeStandsForTheByteAndTrailingEscapeIsKept) {
  EXPECT_EQ(unescape_field("a\001xb"), "axb");
  EXPECT_EQ(unescape_field("ab\001"), "ab\001");
}

TEST(LineCodec, SplitsAndUnescapesFields) {
  auto fields = split_fields("CONNECT\tjane\001tdoe\t\tx");
  ASSERT_EQ(fields.size(), 4u);
  EXPECT_EQ(fields[0], "CONNECT");
  EXPECT_EQ(fields[1], "jane\tdoe");
  EXPECT_EQ(fields[2], "");
  EXPECT_EQ(fields[3], "x");
  EXPECT_TRUE(split_fields("").empty());
}

TEST(LineCodec, SplitsInPlaceLikeACopy) {
  for (std::string line : {"CONNECT\tjane\001tdoe\t\tx", "", "\t", "a\001",
                           "\0011\0010\001r\001n\001q", "x\t\001t\001t\t\001"}) {
    std::vector<std::string> copied = split_fields(line);
    std::vector<std::string_view> views;
    split_fields_in_place(line, &views);
    EXPECT_EQ(std::vector<std::string>(views.begin(), views.end()), copied) << line;
  }
  std::string line = "a\001tb\tc";
  std::vector<std::string_view> views;
  split_fields_in_place(line, &views);
  ASSERT_EQ(views.size(), 2u);
  EXPECT_EQ(views[0], "a\tb");
  EXPECT_EQ(views[1], "c");
}

TEST(LineCodec, ALongLinesStorageIsGivenBack) {
  std::string line(16000, '\t');
  std::vector<std::string_view> fields;
  split_fields_in_place(line, &fields);
  ASSERT_EQ(fields.size(), 16001u);
  release_large(line, fields);
  EXPECT_LE(line.capacity(), 1024u);
  EXPECT_LE(fields.capacity(), 64u);
  // A short line keeps its storage for the next one.
  line = "CONNECT\tx";
  split_fields_in_place(line, &fields);
  std::size_t capacity = fields.capacity();
  release_large(line, fields);
  EXPECT_EQ(fields.capacity(), capacity);
  EXPECT_EQ(line, "CONNECT\tx");
}

TEST(LineCodec, WriterRoundTripsThroughSplit) {
  std::string line = LineWriter().add("WHO").add("user=a\tb").add(42).finish();
  ASSERT_EQ(line.back(), '\n');
  auto fields = split_fields(std::string_view(line).substr(0, line.size() - 1));
  ASSERT_EQ(fields.size(), 3u);
  EXPECT_EQ(fields[1], "user=a\tb");
  EXPECT_EQ(fields[2], "42");
}

TEST(LineCodec, SingleLineTurnsControlBytesIntoSpaces) {
  EXPECT_EQ(single_line("bye\r\nINJECTED\t\x01x"), "bye  INJECTED  x");
  EXPECT_EQ(single_line(std::string("a\0b", 3)), "a b");
}

TEST(LineBuffer, HandsOutLinesAcrossChunksAndDropsCr) {
  LineBuffer buffer(100);
  ASSERT_TRUE(buffer.append("one\r\ntw", 7));
  EXPECT_EQ(buffer.next_line(), "one");
  EXPECT_EQ(buffer.next_line(), std::nullopt);
  ASSERT_TRUE(buffer.append("o\n\nthree", 8));
  EXPECT_EQ(buffer.next_line(), "two");
  EXPECT_EQ(buffer.next_line(), "");
  EXPECT_EQ(buffer.next_line(), std::nullopt);
  EXPECT_EQ(buffer.buffered(), 5u);
}

TEST(LineBuffer, RefusesAnOverlongUnterminatedLine) {
  LineBuffer buffer(10);
  std::string big(50, 'x');
  EXPECT_FALSE(buffer.append(big.data(), big.size()));
  EXPECT_TRUE(buffer.overflowed());
  EXPECT_FALSE(buffer.append("\n", 1));
}

TEST(LineBuffer, RefusesAnOverlongCompleteLineBehindAShortOne) {
  LineBuffer buffer(10);
  std::string data = "short\n" + std::string(20, 'y') + "\nok\n";
  buffer.append(data.data(), data.size());
  EXPECT_EQ(buffer.next_line(), "short");
  EXPECT_EQ(buffer.next_line(), std::nullopt);
  EXPECT_TRUE(buffer.overflowed());
}

TEST(LineBuffer, AcceptsALineOfExactlyTheLimit) {
  LineBuffer buffer(10);
  std::string data = std::string(10, 'z') + "\n";
  EXPECT_TRUE(buffer.append(data.data(), data.size()));
  EXPECT_EQ(buffer.next_line(), std::string(10, 'z'));
  EXPECT_FALSE(buffer.overflowed());
}

TEST(LineBuffer, SkipsAnOverlongLineAndGoesOn) {
  LineBuffer buffer(8);
  EXPECT_TRUE(buffer.append("ok\r\n0123456", 11));
  EXPECT_FALSE(buffer.append("789abc", 6));  // over the limit, still unterminated
  EXPECT_EQ(buffer.next_line(), "ok");
  EXPECT_EQ(buffer.next_line(), std::nullopt);
  ASSERT_TRUE(buffer.overflowed());
  buffer.skip_overlong_line();
  std::string more(100000, 'x');
  EXPECT_TRUE(buffer.append(more.data(), more.size()));  // the same line: dropped
  EXPECT_EQ(buffer.buffered(), 0u);
  EXPECT_TRUE(buffer.append("x\nnext\r\nre", 10));
  EXPECT_EQ(buffer.next_line(), "next");
  EXPECT_EQ(buffer.take_buffered(), "re");
  EXPECT_EQ(buffer.buffered(), 0u);

  LineBuffer complete(4);
  EXPECT_TRUE(complete.append("12345\nok\n", 9));
  EXPECT_EQ(complete.next_line(), std::nullopt);
  ASSERT_TRUE(complete.overflowed());
  complete.skip_overlong_line();
  EXPECT_EQ(complete.next_line(), "ok");
}

}  // namespace
}  // namespace anvil
