// How sessions and filters travel on anvil's native protocols: as
// `key=value` fields of a tab-separated line (see docs/protocol.md). One
// encoder and one decoder for each, used by every program.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/line_codec.h"
#include "common/numbers.h"  // parse_integer, parse_port: callers read numbers too
#include "registry/session.h"
#include "registry/session_filter.h"

namespace anvil {

// The fields a service reports: user, ip, port, local_port, dest_ip,
// dest_port and user_* alternative names. Empty values are left out.
void add_session_info_fields(LineWriter& line, const Session& session);
// The above plus what anvild knows: id, service, pid, start.
void add_session_fields(LineWriter& line, const Session& session);

enum class FieldScope { info, full };
// Applies one `key=value` field. Unknown keys are ignored (newer peers may
// send more). Returns an error message for a malformed field, else "".
std::string apply_session_field(Session& session, std::string_view field, FieldScope scope);

void add_filter_fields(LineWriter& line, const SessionFilter& filter);
// Applies one `key=value` filter field. An unknown key is an error: a filter
// that is not understood must never be widened by ignoring a part of it.
std::string apply_filter_field(SessionFilter& filter, std::string_view field);

// The value of the first `key=value` field from fields[from] on; "" when
// there is none. Fields: a vector of strings or of string views; the value
// views into it.
template <typename Fields>
std::string_view field_value(const Fields& fields, std::size_t from, std::string_view key) {
  for (std::size_t i = from; i < fields.size(); i++) {
    std::string_view field = fields[i];
    if (field.size() > key.size() && field[key.size()] == '=' && field.starts_with(key)) {
      return field.substr(key.size() + 1);
    }
  }
  return {};
}

}  // namespace anvil
