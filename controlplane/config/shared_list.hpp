// shared_list: a std::vector that copies of it share until one of them
// changes it (copy on write).
//
// A group's rules are held this way (model.hpp): the control API makes a
// new model for every change, and a change edits a group or two of
// thousands, so copying the running model must not copy every rule.  Reads
// look like a const std::vector's (and convert to one); anything that can
// write (push_back, erase, a non-const begin() or operator[]) first makes
// the elements this copy's own when another copy shares them, so a shared
// vector is never written.  Iterators and references are a vector's while
// the list is not written; unlike a vector's, a reference to the elements
// (or to get()) kept across a write through the list may go on showing the
// elements as they were, or dangle after clear(): take it again after a
// write.  Pass erase() iterators taken from one call of cbegin()/cend().
//
// Not thread-safe beyond std::shared_ptr's counts: a model belongs to one
// thread at a time (the control thread).
#pragma once

#include <cstddef>
#include <initializer_list>
#include <memory>
#include <utility>
#include <vector>

namespace sgfw::config {

template <class T>
class shared_list {
 public:
  using value_type = T;
  using size_type = std::size_t;
  using iterator = typename std::vector<T>::iterator;
  using const_iterator = typename std::vector<T>::const_iterator;

  shared_list() = default;
  shared_list(std::initializer_list<T> items) : items_(std::make_shared<std::vector<T>>(items)) {}
  explicit shared_list(std::vector<T> items) : items_(std::make_shared<std::vector<T>>(std::move(items))) {}

  // --- reads -----------------------------------------------------------
  const std::vector<T>& get() const { return items_ ? *items_ : none(); }
  operator const std::vector<T>&() const { return get(); }  // NOLINT: reads as a vector
  size_type size() const { return get().size(); }
  bool empty() const { return get().empty(); }
  const T& operator[](size_type i) const { return get()[i]; }
  const T& front() const { return get().front(); }
  const T& back() const { return get().back(); }
  const_iterator begin() const { return get().begin(); }
  const_iterator end() const { return get().end(); }
  const_iterator cbegin() const { return get().begin(); }
  const_iterator cend() const { return get().end(); }
  // Whether the two hold the very same elements (a copy not written since).
  bool shares_with(const shared_list& other) const { return items_ != nullptr && items_ == other.items_; }
  // Known to hold the same elements without comparing them: shared, or
  // both empty.
  bool same_as(const shared_list& other) const { return shares_with(other) || (empty() && other.empty()); }

  // --- writes: this copy's own elements from here on --------------------
  std::vector<T>& edit() {
    if (!items_) {
      items_ = std::make_shared<std::vector<T>>();
    } else if (items_.use_count() > 1) {
      items_ = std::make_shared<std::vector<T>>(*items_);
    }
    return *items_;
  }
  iterator begin() { return edit().begin(); }
  iterator end() { return edit().end(); }
  T& operator[](size_type i) { return edit()[i]; }
  T& front() { return edit().front(); }
  T& back() { return edit().back(); }
  void push_back(T item) { edit().push_back(std::move(item)); }
  template <class... A>
  T& emplace_back(A&&... a) {
    return edit().emplace_back(std::forward<A>(a)...);
  }
  // `at` may be an iterator of the shared elements: it is taken as a position.
  iterator erase(const_iterator at) {
    const auto i = at - get().begin();
    std::vector<T>& v = edit();
    return v.erase(v.begin() + i);
  }
  iterator erase(const_iterator first, const_iterator last) {
    const auto i = first - get().begin();
    const auto j = last - get().begin();
    std::vector<T>& v = edit();
    return v.erase(v.begin() + i, v.begin() + j);
  }
  iterator insert(const_iterator at, T item) {
    const auto i = at - get().begin();
    std::vector<T>& v = edit();
    return v.insert(v.begin() + i, std::move(item));
  }
  void pop_back() { edit().pop_back(); }
  void resize(size_type n) { edit().resize(n); }
  void clear() { items_.reset(); }
  void reserve(size_type n) { edit().reserve(n); }

 private:
  static const std::vector<T>& none() {
    static const std::vector<T> empty;
    return empty;
  }
  std::shared_ptr<std::vector<T>> items_;
};

}  // namespace sgfw::config
