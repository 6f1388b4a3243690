// Tracked shared memory. A kernel's shared arrays are Regions; kernels hold SharedPtr<T> (a region and
// a byte offset) and every element access goes through SharedRef<T>, which bounds-checks, checks
// alignment and records who wrote and read each byte in the current barrier interval (race check).
#pragma once

#include <compare>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <type_traits>
#include <vector>

#include "runtime.h"

namespace mmsim {

// Probe: bounds and alignment only (an access that is recorded later, e.g. a cp.async at issue).
enum class Access : uint8_t { Read, Write, Atomic, Probe };

// Per byte of shared memory: the last writer and the readers of the current barrier interval.
// Intervals are numbered launch-wide (a new block or a __syncthreads starts one); sync stamps count
// completed __syncwarp calls, so accesses by lanes of one warp separated by a __syncwarp that named
// both lanes are ordered.
struct Shadow {
  uint32_t w_iv = 0;    // interval of the last write; 0: none
  uint32_t w_sync = 0;  // sync stamp at that write
  uint16_t w_tid = 0;   // writer; kManyAtomics when several threads updated it atomically
  uint8_t w_atomic = 0;
  uint32_t r_iv = 0;    // interval of the reads below
  uint32_t r_sync = 0;  // latest sync stamp among them
  uint32_t r_warps = 0; // warps that read
  uint32_t r_lanes = 0; // lanes that read (meaningful when one warp read)
  uint16_t r_tid = 0;   // first reader, for messages
  static constexpr uint16_t kManyAtomics = 0xffff;
};

class Region {
 public:
  Region(const char* name, size_t bytes, size_t align);
  Region(const Region&) = delete;
  Region& operator=(const Region&) = delete;
  ~Region();

  const char* name() const { return name_.c_str(); }
  void set_name(const std::string& n) { name_ = n; }
  std::string label() const { return (dynamic ? "dynamic shared '" : "shared '") + name_ + "'"; }
  size_t size() const { return size_; }
  unsigned char* data() const { return data_; }

  // Bounds, alignment and race check of n bytes at off by linear thread tid (-1: the calling thread).
  void check(int64_t off, size_t n, size_t align, Access a, int tid = -1);
  void fill_uninitialized();  // a fresh block sees garbage (0xff: NaN for floats), as on hardware

  template <class T>
  T load(int64_t off) {
    check(off, sizeof(T), alignof(T), Access::Read);
    T v;
    std::memcpy(static_cast<void*>(&v), data_ + off, sizeof(T));
    return v;
  }
  template <class T>
  void store(int64_t off, const T& v) {
    check(off, sizeof(T), alignof(T), Access::Write);
    std::memcpy(data_ + off, static_cast<const void*>(&v), sizeof(T));
  }
  // Read-modify-write as one atomic access.
  template <class T, class F>
  T atomic(int64_t off, F&& update) {
    check(off, sizeof(T), alignof(T), Access::Atomic);
    T old;
    std::memcpy(static_cast<void*>(&old), data_ + off, sizeof(T));
    const T nv = update(old);
    std::memcpy(data_ + off, static_cast<const void*>(&nv), sizeof(T));
    return old;
  }

  const void* tag = nullptr;    // declaration site (static arrays)
  bool dynamic = false;         // the block's dynamic shared memory
  size_t align = 0;
  uint64_t block_serial = 0;    // the block that last initialized it

 private:
  std::string name_;
  size_t size_;
  unsigned char* raw_ = nullptr;
  unsigned char* data_ = nullptr;
  std::vector<Shadow> shadow_;
};

template <class T>
class SharedPtr;

// One element of shared memory, read on conversion and written on assignment.
template <class T>
class SharedRef {
  using V = std::remove_const_t<T>;

 public:
  SharedRef(Region* r, int64_t off) : r_(r), off_(off) {}
  operator V() const { return get(); }
  V get() const {
    if (!r_) rt::fail("access through a null shared-memory pointer");
    return r_->template load<V>(off_);
  }
  SharedRef& operator=(const V& v)
    requires(!std::is_const_v<T>)
  {
    if (!r_) rt::fail("access through a null shared-memory pointer");
    r_->template store<V>(off_, v);
    return *this;
  }
  SharedRef& operator=(const SharedRef& o)
    requires(!std::is_const_v<T>)
  {
    return *this = o.get();
  }
  template <class U>
  SharedRef& operator+=(const U& u) { return *this = V(get() + u); }
  template <class U>
  SharedRef& operator-=(const U& u) { return *this = V(get() - u); }
  template <class U>
  SharedRef& operator*=(const U& u) { return *this = V(get() * u); }
  template <class U>
  SharedRef& operator/=(const U& u) { return *this = V(get() / u); }
  template <class U>
  SharedRef& operator|=(const U& u) { return *this = V(get() | u); }
  template <class U>
  SharedRef& operator&=(const U& u) { return *this = V(get() & u); }
  template <class U>
  SharedRef& operator^=(const U& u) { return *this = V(get() ^ u); }
  SharedRef& operator++() { return *this = V(get() + 1); }
  SharedRef& operator--() { return *this = V(get() - 1); }
  V operator++(int) {
    V old = get();
    *this = V(old + 1);
    return old;
  }
  V operator--(int) {
    V old = get();
    *this = V(old - 1);
    return old;
  }
  SharedPtr<T> operator&() const { return SharedPtr<T>(r_, off_); }

 private:
  Region* r_;
  int64_t off_;
};

// A pointer into shared memory. Arithmetic never faults; an access outside its array does.
template <class T>
class SharedPtr {
 public:
  using element_type = T;
  SharedPtr() = default;
  SharedPtr(Region* r, int64_t off) : r_(r), off_(off) {}
  template <class U>
    requires std::is_convertible_v<U*, T*>
  SharedPtr(const SharedPtr<U>& o) : r_(o.region()), off_(o.offset()) {}

  Region* region() const { return r_; }
  int64_t offset() const { return off_; }  // in bytes

  SharedRef<T> operator*() const { return SharedRef<T>(r_, off_); }
  template <std::integral I>
  SharedRef<T> operator[](I i) const { return SharedRef<T>(r_, off_ + int64_t(i) * int64_t(sizeof(T))); }
  template <std::integral I>
  SharedPtr operator+(I i) const { return SharedPtr(r_, off_ + int64_t(i) * int64_t(sizeof(T))); }
  template <std::integral I>
  friend SharedPtr operator+(I i, const SharedPtr& p) { return p + i; }
  template <std::integral I>
  SharedPtr operator-(I i) const { return SharedPtr(r_, off_ - int64_t(i) * int64_t(sizeof(T))); }
  template <std::integral I>
  SharedPtr& operator+=(I i) { return *this = *this + i; }
  template <std::integral I>
  SharedPtr& operator-=(I i) { return *this = *this - i; }
  SharedPtr& operator++() { return *this += 1; }
  SharedPtr& operator--() { return *this -= 1; }
  std::ptrdiff_t operator-(const SharedPtr& o) const { return std::ptrdiff_t((off_ - o.off_) / int64_t(sizeof(T))); }
  bool operator==(const SharedPtr& o) const = default;
  auto operator<=>(const SharedPtr& o) const { return off_ <=> o.off_; }
  explicit operator bool() const { return r_ != nullptr; }

  // The same bytes viewed as another type (reinterpret_cast of a shared pointer).
  template <class U>
  SharedPtr<U> cast() const { return SharedPtr<U>(r_, off_); }

 private:
  Region* r_ = nullptr;
  int64_t off_ = 0;
};

}  // namespace mmsim
