// Rows of typed cells and the formatters that print them: table (default),
// flow, tab, pager and json. Each cell carries its text and its type, so
// the text formatters and json print the same data (numbers stay numbers
// and lists stay lists in json).
#pragma once

#include <cstdio>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
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
  // The same in place, reusing the cell's storage (rows of many cells are
  // made one after another into the same cells).
  void set_text(std::string_view value);
  void set_number(long long value);
  void set_absent() { type = Type::absent; }
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

// Rows made one at a time: row(i, cells) fills row i's cells, one per
// column. The formatters read each row when they print it (the table
// formatter reads them twice: widths first), so no formatter holds the
// cells of every row, and the text goes out as it is made.
struct RowSource {
  std::vector<Column> columns;
  std::size_t count = 0;
  std::function<void(std::size_t, std::vector<Cell>&)> row;
};
RowSource rows_of(const Table& table);

// Where formatted text goes: a file, written in large pieces as the text
// grows, or (no file) a string for take().
class TextSink {
 public:
  explicit TextSink(std::FILE* file = nullptr) : file_(file) {}
  TextSink(const TextSink&) = delete;
  TextSink& operator=(const TextSink&) = delete;
  ~TextSink() { flush(); }
  void add(std::string_view text) {
    text_ += text;
    written();
  }
  // For writing in place: append to buffer(), then call written().
  std::string& buffer() { return text_; }
  void written() {
    if (file_ && text_.size() >= kFlushBytes) flush();
  }
  void flush();
  std::string take() { return std::exchange(text_, {}); }

 private:
  static constexpr std::size_t kFlushBytes = 256 * 1024;
  std::FILE* file_;
  std::string text_;
};

// Formats rows as they come, by formatter name ("table", "flow", "tab",
// "pager", "json"; anything else is table); width: the terminal's columns
// (80 when not a terminal). flow, tab, pager and json write each row at
// once. table sizes its columns from the first 100 rows, as doveadm does:
// it keeps their texts until then, and writes every later row at once at
// those widths (a wider text is never cut; it pushes its line along).
class RowWriter {
 public:
  RowWriter(const std::string& formatter, std::vector<Column> columns, int width, TextSink& out);
  RowWriter(const RowWriter&) = delete;
  RowWriter& operator=(const RowWriter&) = delete;
  // One row: a cell per column.
  void add(const std::vector<Cell>& cells);
  void finish();
  // Rows whose texts size a table's columns.
  static constexpr std::size_t kWidthRows = 100;

 private:
  void append_padded(std::size_t column, std::string_view text);
  void pad(std::string& out, std::size_t at, std::size_t column) const;
  void write_kept();

  enum class Kind { table, flow, tab, pager, json };
  Kind kind_;
  std::vector<Column> columns_;
  std::vector<std::size_t> shown_;  // the columns text formatters show
  std::vector<std::size_t> widths_;
  int width_;
  TextSink& out_;
  std::size_t rows_ = 0;
  // table, until the widths are fixed: each shown cell's text after its
  // 4-byte length
  std::string kept_;
  bool widths_fixed_ = false;
  std::string line_;
};

// All rows of a source through a RowWriter.
void write_formatted(const std::string& formatter, const RowSource& rows, int width, TextSink& out);

// The same, into a string.
std::string format_table(const RowSource& rows, int width);
std::string format_flow(const RowSource& rows);
std::string format_tab(const RowSource& rows);
std::string format_pager(const RowSource& rows);
std::string format_json(const RowSource& rows);
std::string format(const std::string& formatter, const RowSource& rows, int width);
inline std::string format_table(const Table& t, int width) {
  return format_table(rows_of(t), width);
}
inline std::string format_flow(const Table& t) {
  return format_flow(rows_of(t));
}
inline std::string format_tab(const Table& t) {
  return format_tab(rows_of(t));
}
inline std::string format_pager(const Table& t) {
  return format_pager(rows_of(t));
}
inline std::string format_json(const Table& t) {
  return format_json(rows_of(t));
}
inline std::string format(const std::string& formatter, const Table& t, int width) {
  return format(formatter, rows_of(t), width);
}

}  // namespace anvil
