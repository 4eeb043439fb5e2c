// huge_buffer: zeroed memory for a worker's large tables, backed by 2 MiB
// pages where the kernel offers them.
//
// A table of millions of flows is read at random: on 4 KiB pages nearly
// every lookup also misses the TLB and walks the page tables, which costs
// as much as the miss on the entry itself.  With DPDK hugepages reserved
// the EAL's own memory would do; without them (VMs, this kind of machine)
// transparent huge pages do the same when asked for with madvise.  Every
// page is touched at construction, so the hot path never takes a page
// fault.
#pragma once

#include <cstddef>

namespace sgfw::dp {

class huge_buffer {
 public:
  huge_buffer() = default;
  explicit huge_buffer(std::size_t bytes);
  ~huge_buffer();
  huge_buffer(huge_buffer&& o) noexcept;
  huge_buffer& operator=(huge_buffer&& o) noexcept;
  huge_buffer(const huge_buffer&) = delete;
  huge_buffer& operator=(const huge_buffer&) = delete;

  void* data() const { return data_; }
  std::size_t size() const { return size_; }
  // Whether the buffer is mapped with huge pages requested (else it came
  // from the heap: small, or the mapping failed).
  bool huge() const { return mapped_ != 0; }

 private:
  void release();

  void* data_ = nullptr;
  std::size_t size_ = 0;
  std::size_t mapped_ = 0;  // bytes mapped, 0: from operator new
};

}  // namespace sgfw::dp
