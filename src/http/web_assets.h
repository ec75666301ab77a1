// The web view's files (web/), built into anvil-httpd: nothing to install
// or build beside it.
#pragma once

#include <string_view>

namespace anvil {

struct WebAsset {
  std::string_view path;  // "/index.html"
  std::string_view content_type;
  std::string_view body;
};

// nullptr when there is no such file.
const WebAsset* find_web_asset(std::string_view path);

}  // namespace anvil
