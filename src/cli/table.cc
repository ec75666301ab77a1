#include "cli/table.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <cstring>
#include <string_view>

namespace anvil {

namespace {

// Width in terminal columns, counting UTF-8 code points.
std::size_t display_width(std::string_view text) {
  // Most cells are ASCII: eight bytes at a time, then the few left.
  std::size_t i = 0;
  bool ascii = true;
  for (; ascii && i + 8 <= text.size(); i += 8) {
    std::uint64_t word;
    std::memcpy(&word, text.data() + i, sizeof word);
    ascii = (word & 0x8080808080808080ULL) == 0;
  }
  for (; ascii && i < text.size(); i++) ascii = (static_cast<unsigned char>(text[i]) & 0x80) == 0;
  if (ascii) return text.size();
  std::size_t continuation = 0;  // bytes 10xxxxxx
  for (char c : text) continuation += (static_cast<unsigned char>(c) & 0xC0) == 0x80;
  return text.size() - continuation;
}

// What a table cell shows ("-" when absent), appended without a copy.
void append_table_text(std::string& line, const Cell& cell) {
  switch (cell.type) {
    case Cell::Type::absent: line += '-'; break;
    case Cell::Type::text:
    case Cell::Type::number: line += cell.text; break;
    default: line += cell.display();
  }
}

nlohmann::ordered_json json_value(const Cell& cell) {
  switch (cell.type) {
    case Cell::Type::absent: return nullptr;
    case Cell::Type::text: return cell.text;
    case Cell::Type::number: return std::stoll(cell.text);
    case Cell::Type::text_list: return cell.items;
    case Cell::Type::number_list: {
      nlohmann::ordered_json list = nlohmann::ordered_json::array();
      for (const std::string& item : cell.items) list.push_back(std::stoll(item));
      return list;
    }
  }
  return nullptr;
}

template <typename Write>
std::string to_string(Write write) {
  TextSink sink;
  write(sink);
  return sink.take();
}

}  // namespace

RowWriter::RowWriter(const std::string& formatter, std::vector<Column> columns, int width,
                     TextSink& out)
    : kind_(formatter == "flow"    ? Kind::flow
            : formatter == "tab"   ? Kind::tab
            : formatter == "pager" ? Kind::pager
            : formatter == "json"  ? Kind::json
                                   : Kind::table),
      columns_(std::move(columns)),
      width_(width),
      out_(out) {
  for (std::size_t c = 0; c < columns_.size(); c++) {
    if (!columns_[c].json_only) shown_.push_back(c);
  }
  for (std::size_t c : shown_) widths_.push_back(display_width(columns_[c].title));
  if (kind_ == Kind::tab) {
    line_.clear();
    for (std::size_t i = 0; i < shown_.size(); i++) {
      if (i) line_ += '\t';
      line_ += columns_[shown_[i]].title;
    }
    line_ += '\n';
    out_.add(line_);
  } else if (kind_ == Kind::json) {
    out_.add("[");
  }
}

void RowWriter::add(const std::vector<Cell>& cells) {
  line_.clear();
  switch (kind_) {
    case Kind::table: {
      if (widths_fixed_) {  // past the first rows: out at once, at the widths they set
        std::string& out = out_.buffer();
        for (std::size_t i = 0; i < shown_.size(); i++) {
          if (i) out += ' ';
          std::size_t at = out.size();
          append_table_text(out, cells[shown_[i]]);
          pad(out, at, i);
        }
        out += '\n';
        out_.written();
        rows_++;
        return;
      }
      // Kept as the texts the table shows, each after its length, until
      // the widths are known.
      for (std::size_t i = 0; i < shown_.size(); i++) {
        std::size_t at = kept_.size();
        kept_.append(sizeof(std::uint32_t), '\0');
        append_table_text(kept_, cells[shown_[i]]);
        auto length = static_cast<std::uint32_t>(kept_.size() - at - sizeof(std::uint32_t));
        std::memcpy(kept_.data() + at, &length, sizeof length);
        widths_[i] = std::max(
            widths_[i], display_width(std::string_view(kept_).substr(at + sizeof length, length)));
      }
      if (++rows_ == kWidthRows) write_kept();
      return;
    }
    case Kind::flow:
      for (std::size_t i = 0; i < shown_.size(); i++) {
        if (i) line_ += ' ';
        line_ += columns_[shown_[i]].title + "=" + cells[shown_[i]].display();
      }
      line_ += '\n';
      break;
    case Kind::tab:
      for (std::size_t i = 0; i < shown_.size(); i++) {
        if (i) line_ += '\t';
        line_ += cells[shown_[i]].display();
      }
      line_ += '\n';
      break;
    case Kind::pager:
      if (rows_) line_ += "\f\n";
      for (std::size_t i = 0; i < shown_.size(); i++) {
        line_ += columns_[shown_[i]].title + ": " + cells[shown_[i]].display() + "\n";
      }
      break;
    case Kind::json: {
      nlohmann::ordered_json object = nlohmann::ordered_json::object();
      for (std::size_t c = 0; c < columns_.size(); c++)
        object[columns_[c].key] = json_value(cells[c]);
      if (rows_) line_ += ',';
      // Invalid UTF-8 in a user name is replaced rather than aborting the dump.
      line_ += object.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
      break;
    }
  }
  rows_++;
  out_.add(line_);
}

// One cell padded to its column; the last column is not padded, so lines
// carry no trailing spaces. A text wider than its column is never cut.
void RowWriter::append_padded(std::size_t i, std::string_view text) {
  if (i) line_ += ' ';
  std::size_t at = line_.size();
  line_ += text;
  pad(line_, at, i);
}

// Pads column i's text, which is out's tail from `at`.
void RowWriter::pad(std::string& out, std::size_t at, std::size_t i) const {
  bool right = columns_[shown_[i]].right_align;
  if (i + 1 == shown_.size() && !right) return;
  std::size_t have = display_width(std::string_view(out).substr(at));
  if (have >= widths_[i]) return;
  if (right) {
    out.insert(at, widths_[i] - have, ' ');
  } else {
    out.append(widths_[i] - have, ' ');
  }
}

void RowWriter::write_kept() {
  std::size_t n = shown_.size();
  std::size_t total = n - 1;
  for (std::size_t w : widths_) total += w;
  // Half the spare room goes to the expanding column, as doveadm does.
  for (std::size_t i = 0; i < n; i++) {
    if (columns_[shown_[i]].expand && width_ > 0 && total < static_cast<std::size_t>(width_)) {
      widths_[i] += (static_cast<std::size_t>(width_) - total) / 2;
      break;
    }
  }
  line_.clear();
  for (std::size_t i = 0; i < n; i++) append_padded(i, columns_[shown_[i]].title);
  line_ += '\n';
  out_.add(line_);
  for (std::size_t at = 0; at < kept_.size();) {
    line_.clear();
    for (std::size_t i = 0; i < n; i++) {
      std::uint32_t length = 0;
      std::memcpy(&length, kept_.data() + at, sizeof length);
      at += sizeof length;
      append_padded(i, std::string_view(kept_).substr(at, length));
      at += length;
    }
    line_ += '\n';
    out_.add(line_);
  }
  kept_ = {};
  widths_fixed_ = true;
}

void RowWriter::finish() {
  if (kind_ == Kind::json) out_.add("]\n");
  if (kind_ == Kind::table && !widths_fixed_) write_kept();
}

Cell Cell::of_text(std::string value) {
  Cell cell;
  cell.type = value.empty() ? Type::absent : Type::text;
  cell.text = std::move(value);
  return cell;
}

Cell Cell::of_number(long long value) {
  Cell cell;
  cell.set_number(value);
  return cell;
}

void Cell::set_text(std::string_view value) {
  type = value.empty() ? Type::absent : Type::text;
  text.assign(value);
}

void Cell::set_number(long long value) {
  char digits[24];
  auto end = std::to_chars(digits, digits + sizeof digits, value).ptr;
  type = Type::number;
  text.assign(digits, end);
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
  RowWriter writer(formatter, rows.columns, width, out);
  std::vector<Cell> cells(rows.columns.size());
  for (std::size_t r = 0; r < rows.count; r++) {
    rows.row(r, cells);
    writer.add(cells);
  }
  writer.finish();
}

std::string format(const std::string& formatter, const RowSource& rows, int width) {
  return to_string([&](TextSink& out) { write_formatted(formatter, rows, width, out); });
}
std::string format_table(const RowSource& rows, int width) {
  return format("table", rows, width);
}
std::string format_flow(const RowSource& rows) {
  return format("flow", rows, 0);
}
std::string format_tab(const RowSource& rows) {
  return format("tab", rows, 0);
}
std::string format_pager(const RowSource& rows) {
  return format("pager", rows, 0);
}
std::string format_json(const RowSource& rows) {
  return format("json", rows, 0);
}

}  // namespace anvil
