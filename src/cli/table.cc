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

std::string pad(const std::string& text, std::size_t width, bool right) {
  std::size_t have = display_width(text);
  if (have >= width) return text;
  std::string spaces(width - have, ' ');
  return right ? spaces + text : text + spaces;
}

std::string table_text(const Cell& cell) {
  return cell.type == Cell::Type::absent ? "-" : cell.display();
}

// The table without its json-only columns.
Table text_view(const Table& table) {
  Table shown;
  std::vector<bool> keep;
  for (const Column& column : table.columns) {
    keep.push_back(!column.json_only);
    if (keep.back()) shown.columns.push_back(column);
  }
  for (const auto& row : table.rows) {
    auto& cells = shown.rows.emplace_back();
    for (std::size_t c = 0; c < row.size(); c++) {
      if (keep[c]) cells.push_back(row[c]);
    }
  }
  return shown;
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

std::string format_table(const Table& full, int width) {
  const Table table = text_view(full);
  std::size_t n = table.columns.size();
  std::vector<std::size_t> widths(n);
  for (std::size_t c = 0; c < n; c++) {
    widths[c] = display_width(table.columns[c].title);
    for (const auto& row : table.rows)
      widths[c] = std::max(widths[c], display_width(table_text(row[c])));
  }
  std::size_t total = n - 1;
  for (std::size_t w : widths) total += w;
  // Half the spare room goes to the expanding column, as doveadm does;
  // nothing is ever cut, so a wide row simply runs past the terminal.
  auto expand = std::find_if(table.columns.begin(), table.columns.end(),
                             [](const Column& c) { return c.expand; });
  if (expand != table.columns.end() && width > 0 && total < static_cast<std::size_t>(width)) {
    widths[static_cast<std::size_t>(expand - table.columns.begin())] += (width - total) / 2;
  }
  std::string out;
  auto emit = [&](auto text_of) {
    std::string line;
    for (std::size_t c = 0; c < n; c++) {
      std::string text = text_of(c);
      bool last = c + 1 == n;
      if (c) line += ' ';
      // The last column is not padded, so lines carry no trailing spaces.
      line += last && !table.columns[c].right_align
                  ? text
                  : pad(text, widths[c], table.columns[c].right_align);
    }
    out += line + "\n";
  };
  emit([&](std::size_t c) { return table.columns[c].title; });
  for (const auto& row : table.rows) emit([&](std::size_t c) { return table_text(row[c]); });
  return out;
}

std::string format_flow(const Table& full) {
  const Table table = text_view(full);
  std::string out;
  for (const auto& row : table.rows) {
    for (std::size_t c = 0; c < table.columns.size(); c++) {
      if (c) out += ' ';
      out += table.columns[c].title + "=" + row[c].display();
    }
    out += "\n";
  }
  return out;
}

std::string format_tab(const Table& full) {
  const Table table = text_view(full);
  std::string out;
  auto emit = [&](auto text_of) {
    for (std::size_t c = 0; c < table.columns.size(); c++) {
      if (c) out += '\t';
      out += text_of(c);
    }
    out += '\n';
  };
  emit([&](std::size_t c) { return table.columns[c].title; });
  for (const auto& row : table.rows) emit([&](std::size_t c) { return row[c].display(); });
  return out;
}

std::string format_pager(const Table& full) {
  const Table table = text_view(full);
  std::string out;
  for (std::size_t r = 0; r < table.rows.size(); r++) {
    if (r) out += "\f\n";
    for (std::size_t c = 0; c < table.columns.size(); c++) {
      out += table.columns[c].title + ": " + table.rows[r][c].display() + "\n";
    }
  }
  return out;
}

std::string format_json(const Table& table) {
  nlohmann::ordered_json array = nlohmann::ordered_json::array();
  for (const auto& row : table.rows) {
    nlohmann::ordered_json object = nlohmann::ordered_json::object();
    for (std::size_t c = 0; c < table.columns.size(); c++) {
      const Cell& cell = row[c];
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
      object[table.columns[c].key] = std::move(value);
    }
    array.push_back(std::move(object));
  }
  // Invalid UTF-8 in a user name is replaced rather than aborting the dump.
  return array.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace) + "\n";
}

std::string format(const std::string& formatter, const Table& table, int width) {
  if (formatter == "flow") return format_flow(table);
  if (formatter == "tab") return format_tab(table);
  if (formatter == "pager") return format_pager(table);
  if (formatter == "json") return format_json(table);
  return format_table(table, width);
}

}  // namespace anvil
