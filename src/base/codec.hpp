// SPDX-License-Identifier: GPL-2.0-or-later
// The one byte codec of the binary forms ppolicyd writes for itself: result
// cache entries, database row snapshots and the shared-memory state file.
// Native byte order (they never leave the host that wrote them), strings
// prefixed by a 32-bit length. Reading is bounds-checked: a short or
// corrupt input makes the reader fail (ok() false) and return empty values,
// never read past the end.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace ppolicy {

class ByteWriter {
 public:
  explicit ByteWriter(std::string& out) : d_out(out) {}
  ByteWriter& u8(uint8_t v) { return raw(&v, 1); }
  ByteWriter& u16(uint16_t v) { return raw(&v, 2); }
  ByteWriter& u32(uint32_t v) { return raw(&v, 4); }
  ByteWriter& u64(uint64_t v) { return raw(&v, 8); }
  ByteWriter& i32(int32_t v) { return raw(&v, 4); }
  ByteWriter& f64(double v) { return raw(&v, 8); }
  ByteWriter& str(std::string_view s) {
    u32(static_cast<uint32_t>(s.size()));
    d_out.append(s);
    return *this;
  }
  ByteWriter& bytes(std::string_view s) {
    d_out.append(s);
    return *this;
  }

 private:
  ByteWriter& raw(const void* p, size_t n) {
    d_out.append(static_cast<const char*>(p), n);
    return *this;
  }
  std::string& d_out;
};

class ByteReader {
 public:
  explicit ByteReader(std::string_view in) : d_in(in) {}
  uint8_t u8() { return fixed<uint8_t>(); }
  uint16_t u16() { return fixed<uint16_t>(); }
  uint32_t u32() { return fixed<uint32_t>(); }
  uint64_t u64() { return fixed<uint64_t>(); }
  int32_t i32() { return fixed<int32_t>(); }
  double f64() { return fixed<double>(); }
  // A length-prefixed string (a view into the input).
  std::string_view str() { return bytes(u32()); }
  std::string_view bytes(size_t n) {
    if (!need(n)) return {};
    std::string_view s = d_in.substr(0, n);
    d_in.remove_prefix(n);
    return s;
  }
  bool ok() const { return d_ok; }
  bool done() const { return d_in.empty(); }
  size_t left() const { return d_in.size(); }

 private:
  bool need(size_t n) {
    if (!d_ok || d_in.size() < n) d_ok = false;
    return d_ok;
  }
  template <class T>
  T fixed() {
    T v{};
    if (need(sizeof v)) {
      std::memcpy(&v, d_in.data(), sizeof v);
      d_in.remove_prefix(sizeof v);
    }
    return v;
  }
  std::string_view d_in;
  bool d_ok = true;
};

}  // namespace ppolicy
