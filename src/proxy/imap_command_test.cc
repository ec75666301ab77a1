#include "proxy/imap_command.h"

#include <gtest/gtest.h>

namespace anvil {
namespace {

using Kind = ImapCommandReader::Step::Kind;

std::optional<ImapCommand> parse(std::string_view raw, std::string* error = nullptr) {
  std::string tag, ignored;
  return parse_imap_command(raw, &tag, error ? error : &ignored);
}

TEST(ImapCommand, AtomsQuotedStringsAndLiterals) {
  auto command = parse("a1 login \"ja\\\"ne\" {6}\r\nse cr\"");
  ASSERT_TRUE(command);
  EXPECT_EQ(command->tag, "a1");
  EXPECT_EQ(command->name, "LOGIN");
  ASSERT_EQ(command->args.size(), 2u);
  EXPECT_EQ(command->args[0].text, "ja\"ne");
  EXPECT_EQ(command->args[1].kind, ImapArg::Kind::string);
  EXPECT_EQ(command->args[1].text, "se cr\"");
}

TEST(ImapCommand, ListsNilAndSyntaxErrors) {
  auto command = parse("x ID (\"name\" \"client\" \"version\" NIL)");
  ASSERT_TRUE(command);
  ASSERT_EQ(command->args.size(), 1u);
  EXPECT_EQ(command->args[0].kind, ImapArg::Kind::list);
  EXPECT_EQ(command->args[0].items.size(), 4u);
  std::string error, tag;
  EXPECT_FALSE(parse_imap_command("x LOGIN \"open", &tag, &error));
  EXPECT_EQ(tag, "x");
  EXPECT_EQ(error, "Unterminated quoted string");
  EXPECT_FALSE(parse_imap_command("x ID (a (b)", &tag, &error));
  EXPECT_FALSE(parse_imap_command("x LOGIN a  b", &tag, &error));
  EXPECT_FALSE(parse_imap_command("x LOGIN {99}\r\nshort", &tag, &error));
  EXPECT_FALSE(parse_imap_command("x ID ((((((((((a))))))))))", &tag, &error));
  EXPECT_EQ(error, "Lists nested too deeply");
  tag.clear();
  EXPECT_FALSE(parse_imap_command("\"bad\" NOOP", &tag, &error));
  EXPECT_EQ(tag, "");
  EXPECT_EQ(error, "Invalid tag");
  EXPECT_FALSE(parse_imap_command("onlytag", &tag, &error));
}

TEST(ImapCommandReader, CommandsArriveWholeWhateverTheChunks) {
  ImapCommandReader reader(1024);
  std::string input = "a NOOP\r\nb LOGIN {4+}\r\njane {6+}\r\nsecret\r\n";
  for (char c : input.substr(0, input.size() - 1)) reader.append(std::string(1, c));
  auto first = reader.next();
  ASSERT_EQ(first.kind, Kind::command);
  EXPECT_EQ(first.text, "a NOOP");
  EXPECT_EQ(reader.next().kind, Kind::need_more);
  reader.append("\n");
  auto second = reader.next();
  ASSERT_EQ(second.kind, Kind::command);
  auto command = parse(second.text);
  ASSERT_TRUE(command);
  EXPECT_EQ(command->args[0].text, "jane");
  EXPECT_EQ(command->args[1].text, "secret");
}

TEST(ImapCommandReader, SynchronizingLiteralAsksForContinuation) {
  ImapCommandReader reader(1024);
  reader.append("c LOGIN {4}\r\n");
  EXPECT_EQ(reader.next().kind, Kind::continuation);
  EXPECT_EQ(reader.next().kind, Kind::need_more);
  reader.append("jane secret\r\n");
  auto step = reader.next();
  ASSERT_EQ(step.kind, Kind::command);
  EXPECT_EQ(step.text, "c LOGIN {4}\r\njane secret");
}

TEST(ImapCommandReader, LongLinesAreDroppedAndTheStreamGoesOn) {
  ImapCommandReader reader(1024);
  reader.append("t1 NOOP " + std::string(4000, 'x'));
  auto step = reader.next();
  EXPECT_EQ(step.kind, Kind::too_long);
  EXPECT_EQ(step.text, "t1");
  for (int i = 0; i < 100; i++) {  // megabytes more of the same line: nothing kept
    reader.append(std::string(100000, 'y'));
    EXPECT_EQ(reader.next().kind, Kind::need_more);
  }
  reader.append("yyy\r\nt2 NOOP\r\n");
  step = reader.next();
  ASSERT_EQ(step.kind, Kind::command);
  EXPECT_EQ(step.text, "t2 NOOP");
}

TEST(ImapCommandReader, OversizedLiterals) {
  ImapCommandReader reader(1024);
  reader.append("t LOGIN {5000}\r\n");
  auto step = reader.next();
  EXPECT_EQ(step.kind, Kind::literal_too_large);
  EXPECT_TRUE(step.synchronizing);
  EXPECT_EQ(step.text, "t");
  reader.append("u LOGIN {99999999999999999999999+}\r\n");
  step = reader.next();
  EXPECT_EQ(step.kind, Kind::literal_too_large);
  EXPECT_EQ(step.text, "u");
  reader.append("v LOGIN {5000+}\r\n");
  step = reader.next();
  EXPECT_EQ(step.kind, Kind::literal_too_large);
  EXPECT_FALSE(step.synchronizing);
}

TEST(ImapCommandReader, DiscardDropsUnreadBytes) {
  ImapCommandReader reader(1024);
  reader.append("a STARTTLS\r\nb LOGIN injected command\r\n");
  EXPECT_EQ(reader.next().text, "a STARTTLS");
  reader.discard_buffered();
  EXPECT_EQ(reader.next().kind, Kind::need_more);
}

}  // namespace
}  // namespace anvil
