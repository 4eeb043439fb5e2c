#include "memory/huge_buffer.hpp"

#include <sys/mman.h>

#include <cstdint>
#include <cstring>
#include <new>
#include <utility>

namespace sgfw::dp {

namespace {

constexpr std::size_t k_huge_page = std::size_t{2} << 20;
constexpr std::size_t k_line = 64;

std::size_t round_up(std::size_t n, std::size_t to) { return (n + to - 1) / to * to; }

// An anonymous mapping of `len` bytes (a multiple of the huge page size)
// aligned to a huge page, or nullptr.
void* map_aligned(std::size_t len) {
  void* raw = ::mmap(nullptr, len + k_huge_page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (raw == MAP_FAILED) return nullptr;
  const auto start = reinterpret_cast<std::uintptr_t>(raw);
  const std::uintptr_t aligned = round_up(start, k_huge_page);
  if (aligned != start) ::munmap(raw, aligned - start);
  const std::uintptr_t tail = start + len + k_huge_page - (aligned + len);
  if (tail != 0) ::munmap(reinterpret_cast<void*>(aligned + len), tail);
  return reinterpret_cast<void*>(aligned);
}

}  // namespace

huge_buffer::huge_buffer(std::size_t bytes) : size_(bytes) {
  if (bytes >= k_huge_page) {
    const std::size_t len = round_up(bytes, k_huge_page);
    if (void* p = map_aligned(len)) {
      // Advice only: a kernel without transparent huge pages keeps 4 KiB.
      (void)::madvise(p, len, MADV_HUGEPAGE);
      data_ = p;
      mapped_ = len;
    }
  }
  if (data_ == nullptr) data_ = ::operator new (round_up(bytes == 0 ? 1 : bytes, k_line), std::align_val_t{k_line});
  std::memset(data_, 0, bytes);  // zero, and fault every page in now
}

huge_buffer::~huge_buffer() { release(); }

huge_buffer::huge_buffer(huge_buffer&& o) noexcept
    : data_(std::exchange(o.data_, nullptr)), size_(std::exchange(o.size_, 0)), mapped_(std::exchange(o.mapped_, 0)) {}

huge_buffer& huge_buffer::operator=(huge_buffer&& o) noexcept {
  if (this != &o) {
    release();
    data_ = std::exchange(o.data_, nullptr);
    size_ = std::exchange(o.size_, 0);
    mapped_ = std::exchange(o.mapped_, 0);
  }
  return *this;
}

void huge_buffer::release() {
  if (data_ == nullptr) return;
  if (mapped_ != 0) {
    ::munmap(data_, mapped_);
  } else {
    ::operator delete (data_, std::align_val_t{k_line});
  }
  data_ = nullptr;
}

}  // namespace sgfw::dp
