// Rows of typed cells and the formatters that print them: table (default),
// flow, tab, pager and json. Each cell carries its text and its type, so
// the text formatters and json print the same data (numbers stay numbers
// and lists stay lists in json).
#pragma once

#include <string>
#include <vector>

namespace anvil {

struct Cell {
  enum class Type { text, number, text_list, number_list, absent };
  Type type = Type::absent;
  std::string text;                // text and number
  std::vector<std::string> items;  // lists

  static Cell of_text(std::string value);  // empty text is absent
  static Cell of_number(long long value);
  static Cell of_list(std::vector<std::string> values, bool numbers);
  // How text formatters show it: lists as "(a b)", absent as "".
  std::string display() const;
};

struct Column {
  std::string key;    // json key
  std::string title;  // header in table, tab, flow and pager
  bool right_align = false;
  bool expand = false;  // gets spare width in table output
  // Only in json: the text views keep doveadm's columns.
  bool json_only = false;
};

struct Table {
  std::vector<Column> columns;
  std::vector<std::vector<Cell>> rows;
};

// width: the terminal's columns (80 when not a terminal).
std::string format_table(const Table& table, int width);
std::string format_flow(const Table& table);
std::string format_tab(const Table& table);
std::string format_pager(const Table& table);
std::string format_json(const Table& table);
// By formatter name ("table", "flow", "tab", "pager", "json").
std::string format(const std::string& formatter, const Table& table, int width);

}  // namespace anvil
