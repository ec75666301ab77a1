// For tests: a file under /tmp that is removed when the test is done.
#pragma once

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <string_view>

namespace anvil {

class TestTempFile {
 public:
  // The file is created empty, named /tmp/<prefix>-XXXXXX.
  explicit TestTempFile(std::string_view prefix)
      : path_("/tmp/" + std::string(prefix) + "-XXXXXX") {
    int fd = mkstemp(path_.data());
    if (fd < 0) std::abort();  // /tmp unwritable: nothing here can be tested
    close(fd);
  }
  ~TestTempFile() { std::remove(path_.c_str()); }
  TestTempFile(const TestTempFile&) = delete;
  TestTempFile& operator=(const TestTempFile&) = delete;

  const std::string& path() const { return path_; }
  // Replaces the file's contents.
  void write(std::string_view text) const { std::ofstream(path_) << text; }
  // Removes the file early, to test a missing one.
  void remove() const { std::remove(path_.c_str()); }

 private:
  std::string path_;
};

}  // namespace anvil
