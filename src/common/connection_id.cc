#include "anvil/connection_id.h"

#include <sys/mman.h>
#include <sys/random.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace anvil {

namespace {

void fill_random(void* out, std::size_t size) {
  std::size_t got = 0;
  while (got < size) {
    ssize_t n = getrandom(static_cast<char*>(out) + got, size - got, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw std::runtime_error(std::string("getrandom failed: ") + std::strerror(errno));
    }
    got += static_cast<std::size_t>(n);
  }
}

// Random bytes come from the kernel a page at a time, not an id at a time
// (one system call per id was most of what registering a session cost a
// service). The page is wiped in the child of a fork (MADV_WIPEONFORK),
// and a wiped page reads as empty, so parent and child never hand out the
// same ids. Where the kernel cannot wipe, every id is fetched by itself.
class RandomPool {
 public:
  RandomPool() {
    void* page =
        mmap(nullptr, sizeof(Page), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (page == MAP_FAILED) return;
    if (madvise(page, sizeof(Page), MADV_WIPEONFORK) != 0) {
      munmap(page, sizeof(Page));
      return;
    }
    page_ = static_cast<Page*>(page);
  }
  ~RandomPool() {
    if (page_ != nullptr) munmap(page_, sizeof(Page));
  }
  RandomPool(const RandomPool&) = delete;
  RandomPool& operator=(const RandomPool&) = delete;

  void take(void* out, std::size_t size) {
    if (page_ == nullptr || size > sizeof page_->bytes) return fill_random(out, size);
    if (page_->left < size) {
      fill_random(page_->bytes, sizeof page_->bytes);
      page_->left = sizeof page_->bytes;
    }
    // Handed-out bytes are cleared: nothing read once stays in memory.
    unsigned char* from = page_->bytes + sizeof page_->bytes - page_->left;
    std::memcpy(out, from, size);
    std::memset(from, 0, size);
    page_->left -= static_cast<std::uint32_t>(size);
  }

 private:
  struct Page {
    std::uint32_t left;  // unread bytes, at the end of `bytes`; 0 once wiped
    unsigned char bytes[4096 - sizeof(std::uint32_t)];
  };
  Page* page_ = nullptr;
};

}  // namespace

ConnectionId ConnectionId::random() {
  thread_local RandomPool pool;
  ConnectionId id;
  do {
    std::uint64_t words[2];
    pool.take(words, sizeof words);
    id.high = words[0];
    id.low = words[1];
  } while (id.is_zero());  // zero is reserved as "no id"
  return id;
}

namespace {

// Each byte's value as a hex digit; 0xff for a byte that is none.
constexpr std::array<std::uint8_t, 256> kHexValue = [] {
  std::array<std::uint8_t, 256> table{};
  table.fill(0xff);
  for (int c = 0; c < 10; c++) table['0' + c] = static_cast<std::uint8_t>(c);
  for (int c = 0; c < 6; c++) {
    table['a' + c] = table['A' + c] = static_cast<std::uint8_t>(10 + c);
  }
  return table;
}();

// 16 hex digits; false if any is none.
bool parse_word(const char* hex, std::uint64_t* word) {
  std::uint64_t value = 0;
  std::uint8_t invalid = 0;
  for (int i = 0; i < 16; i++) {
    std::uint8_t digit = kHexValue[static_cast<unsigned char>(hex[i])];
    invalid |= digit;
    value = value << 4 | (digit & 0xf);
  }
  *word = value;
  return (invalid & 0xf0) == 0;
}

}  // namespace

std::optional<ConnectionId> ConnectionId::parse(std::string_view hex) {
  ConnectionId id;
  if (hex.size() != 32 || !parse_word(hex.data(), &id.high) ||
      !parse_word(hex.data() + 16, &id.low)) {
    return std::nullopt;
  }
  return id;
}

void ConnectionId::write_hex(char* out) const {
  static constexpr char digits[] = "0123456789abcdef";
  for (int i = 0; i < 16; i++) {
    out[15 - i] = digits[(high >> (4 * i)) & 0xf];
    out[31 - i] = digits[(low >> (4 * i)) & 0xf];
  }
}

std::string ConnectionId::to_hex() const {
  std::string out(32, '0');
  write_hex(out.data());
  return out;
}

}  // namespace anvil
