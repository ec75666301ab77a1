#include "cli/table.h"

#include <nlohmann/json.hpp>

#include <algorithm>

namespace anvil {

namespace {

// Width in terminal columns, counting UTF-8 code points.
std::size_t display_width(const std::string& text) {
  return static_cast<std::size_t>(
      std::count_if(text.begin(), text.end(), [](char c) { return (c & 0xC0) != 0x80; }));
}

// The rows as the text formatters see them: without json-only columns.
class TextRows {
 public:
  explicit TextRows(const RowSource& source) : source_(source) {
    for (std::size_t c = 0; c < source.columns.size(); c++) {
      if (!source.columns[c].json_only) shown_.push_back(c);
    }
  }
  std::size_t size() const { return source_.count; }
  std::size_t width() const { return shown_.size(); }
  const Column& column(std::size_t c) const { return source_.columns[shown_[c]]; }
  // Row r's shown cells; valid until the next call.
  const Cell& cell(std::size_t c) const { return cells_[shown_[c]]; }
  void load(std::size_t r) {
    cells_.resize(source_.columns.size());
    source_.row(r, cells_);
  }

 private:
  const RowSource& source_;
  std::vector<std::size_t> shown_;
  std::vector<Cell> cells_;
};

// What a table cell shows ("-" when absent), appended without a copy.
void append_table_text(std::string& line, const Cell& cell) {
  switch (cell.type) {
    case Cell::Type::absent: line += '-'; break;
    case Cell::Type::text:
    case Cell::Type::number: line += cell.text; break;
    default: line += cell.display();
  }
}

std::size_t table_width(const Cell& cell) {
  switch (cell.type) {
    case Cell::Type::absent: return 1;
    case Cell::Type::text:
    case Cell::Type::number: return display_width(cell.text);
    default: return display_width(cell.display());
  }
}

void write_table(const RowSource& source, int width, TextSink& out) {
  TextRows rows(source);
  std::size_t n = rows.width();
  std::vector<std::size_t> widths(n);
  for (std::size_t c = 0; c < n; c++) widths[c] = display_width(rows.column(c).title);
  for (std::size_t r = 0; r < rows.size(); r++) {
    rows.load(r);
    for (std::size_t c = 0; c < n; c++) widths[c] = std::max(widths[c], table_width(rows.cell(c)));
  }
  std::size_t total = n - 1;
  for (std::size_t w : widths) total += w;
  // Half the spare room goes to the expanding column, as doveadm does;
  // nothing is ever cut, so a wide row simply runs past the terminal.
  for (std::size_t c = 0; c < n; c++) {
    if (rows.column(c).expand && width > 0 && total < static_cast<std::size_t>(width)) {
      widths[c] += (static_cast<std::size_t>(width) - total) / 2;
      break;
    }
  }
  std::string line;
  // Appends one cell's text padded to its column's width; the last column
  // is not padded, so lines carry no trailing spaces.
  auto add = [&](std::size_t c, std::size_t text_width, auto append) {
    if (c) line += ' ';
    bool right = rows.column(c).right_align;
    std::size_t fill = c + 1 == n && !right ? 0 : widths[c] - std::min(widths[c], text_width);
    if (right) line.append(fill, ' ');
    append();
    if (!right) line.append(fill, ' ');
  };
  line.clear();
  for (std::size_t c = 0; c < n; c++) {
    const std::string& title = rows.column(c).title;
    add(c, display_width(title), [&] { line += title; });
  }
  line += '\n';
  out.add(line);
  for (std::size_t r = 0; r < rows.size(); r++) {
    rows.load(r);
    line.clear();
    for (std::size_t c = 0; c < n; c++) {
      const Cell& cell = rows.cell(c);
      add(c, table_width(cell), [&] { append_table_text(line, cell); });
    }
    line += '\n';
    out.add(line);
  }
}

void write_flow(const RowSource& source, TextSink& out) {
  TextRows rows(source);
  std::string line;
  for (std::size_t r = 0; r < rows.size(); r++) {
    rows.load(r);
    line.clear();
    for (std::size_t c = 0; c < rows.width(); c++) {
      if (c) line += ' ';
      line += rows.column(c).title + "=" + rows.cell(c).display();
    }
    line += '\n';
    out.add(line);
  }
}

void write_tab(const RowSource& source, TextSink& out) {
  TextRows rows(source);
  std::string line;
  auto emit = [&](auto text_of) {
    line.clear();
    for (std::size_t c = 0; c < rows.width(); c++) {
      if (c) line += '\t';
      line += text_of(c);
    }
    line += '\n';
    out.add(line);
  };
  emit([&](std::size_t c) { return rows.column(c).title; });
  for (std::size_t r = 0; r < rows.size(); r++) {
    rows.load(r);
    emit([&](std::size_t c) { return rows.cell(c).display(); });
  }
}

void write_pager(const RowSource& source, TextSink& out) {
  TextRows rows(source);
  for (std::size_t r = 0; r < rows.size(); r++) {
    rows.load(r);
    if (r) out.add("\f\n");
    for (std::size_t c = 0; c < rows.width(); c++) {
      out.add(rows.column(c).title + ": " + rows.cell(c).display() + "\n");
    }
  }
}

// One array, written an object at a time.
void write_json(const RowSource& source, TextSink& out) {
  std::vector<Cell> cells(source.columns.size());
  out.add("[");
  for (std::size_t r = 0; r < source.count; r++) {
    source.row(r, cells);
    nlohmann::ordered_json object = nlohmann::ordered_json::object();
    for (std::size_t c = 0; c < source.columns.size(); c++) {
      const Cell& cell = cells[c];
      nlohmann::ordered_json value;
      switch (cell.type) {
        case Cell::Type::absent: value = nullptr; break;
        case Cell::Type::text: value = cell.text; break;
        case Cell::Type::number: value = std::stoll(cell.text); break;
        case Cell::Type::text_list: value = cell.items; break;
        case Cell::Type::number_list: {
          value = nlohmann::ordered_json::array();
          for (const std::string& item : cell.items) value.push_back(std::stoll(item));
          break;
        }
      }
      object[source.columns[c].key] = std::move(value);
    }
    if (r) out.add(",");
    // Invalid UTF-8 in a user name is replaced rather than aborting the dump.
    out.add(object.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace));
  }
  out.add("]\n");
}

template <typename Write>
std::string to_string(Write write) {
  TextSink sink;
  write(sink);
  return sink.take();
}

}  // namespace

Cell Cell::of_text(std::string value) {
  Cell cell;
  cell.type = value.empty() ? Type::absent : Type::text;
  cell.text = std::move(value);
  return cell;
}

Cell Cell::of_number(long long value) {
  Cell cell;
  cell.type = Type::number;
  cell.text = std::to_string(value);
  return cell;
}

Cell Cell::of_list(std::vector<std::string> values, bool numbers) {
  Cell cell;
  cell.type = numbers ? Type::number_list : Type::text_list;
  cell.items = std::move(values);
  return cell;
}

std::string Cell::display() const {
  switch (type) {
    case Type::text:
    case Type::number: return text;
    case Type::absent: return "";
    case Type::text_list:
    case Type::number_list: {
      std::string out = "(";
      for (std::size_t i = 0; i < items.size(); i++) {
        if (i) out += ' ';
        out += items[i];
      }
      return out + ")";
    }
  }
  return text;
}

RowSource rows_of(const Table& table) {
  return {table.columns, table.rows.size(),
          [&table](std::size_t r, std::vector<Cell>& cells) { cells = table.rows[r]; }};
}

void TextSink::flush() {
  if (!file_ || text_.empty()) return;
  std::fwrite(text_.data(), 1, text_.size(), file_);
  text_.clear();
}

void write_formatted(const std::string& formatter, const RowSource& rows, int width,
                     TextSink& out) {
  if (formatter == "flow") return write_flow(rows, out);
  if (formatter == "tab") return write_tab(rows, out);
  if (formatter == "pager") return write_pager(rows, out);
  if (formatter == "json") return write_json(rows, out);
  write_table(rows, width, out);
}

std::string format_table(const RowSource& rows, int width) {
  return to_string([&](TextSink& out) { write_table(rows, width, out); });
}
std::string format_flow(const RowSource& rows) {
  return to_string([&](TextSink& out) { write_flow(rows, out); });
}
std::string format_tab(const RowSource& rows) {
  return to_string([&](TextSink& out) { write_tab(rows, out); });
}
std::string format_pager(const RowSource& rows) {
  return to_string([&](TextSink& out) { write_pager(rows, out); });
}
std::string format_json(const RowSource& rows) {
  return to_string([&](TextSink& out) { write_json(rows, out); });
}
std::string format(const std::string& formatter, const RowSource& rows, int width) {
  return to_string([&](TextSink& out) { write_formatted(formatter, rows, width, out); });
}

}  // namespace anvil
