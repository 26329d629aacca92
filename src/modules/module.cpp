// SPDX-License-Identifier: GPL-2.0-or-later
#include "modules/module.hpp"

#include <cstring>

#include "util/strings.hpp"

namespace ppolicy {

Result& Result::set(std::string name, double n) {
  fields.emplace_back(std::move(name), Value::number(n));
  return *this;
}

Result& Result::set(std::string name, std::string s) {
  fields.emplace_back(std::move(name), Value::string(std::move(s)));
  return *this;
}

const Value* Result::field(std::string_view name) const {
  for (const auto& [k, v] : fields)
    if (k == name) return &v;
  return nullptr;
}

namespace {
void put_str(std::string& out, std::string_view s) {
  uint32_t n = static_cast<uint32_t>(s.size());
  out.append(reinterpret_cast<const char*>(&n), 4);
  out.append(s);
}
bool get_str(std::string_view& in, std::string& s) {
  uint32_t n;
  if (in.size() < 4) return false;
  std::memcpy(&n, in.data(), 4);
  in.remove_prefix(4);
  if (in.size() < n) return false;
  s.assign(in.data(), n);
  in.remove_prefix(n);
  return true;
}
}  // namespace

std::string Result::encode() const {
  std::string out;
  int32_t c = code;
  out.append(reinterpret_cast<const char*>(&c), 4);
  put_str(out, info);
  out += static_cast<char>(fields.size());
  for (const auto& [k, v] : fields) {
    put_str(out, k);
    if (v.type == Type::number) {
      out += 'n';
      out.append(reinterpret_cast<const char*>(&v.n), sizeof v.n);
    } else {
      out += 's';
      put_str(out, v.s);
    }
  }
  return out;
}

bool Result::decode(std::string_view in, Result& r) {
  if (in.size() < 4) return false;
  int32_t c;
  std::memcpy(&c, in.data(), 4);
  in.remove_prefix(4);
  r.code = c;
  if (!get_str(in, r.info) || in.empty()) return false;
  size_t n = static_cast<unsigned char>(in[0]);
  in.remove_prefix(1);
  r.fields.clear();
  for (size_t i = 0; i < n; ++i) {
    std::string k;
    if (!get_str(in, k) || in.empty()) return false;
    char t = in[0];
    in.remove_prefix(1);
    if (t == 'n') {
      double d;
      if (in.size() < sizeof d) return false;
      std::memcpy(&d, in.data(), sizeof d);
      in.remove_prefix(sizeof d);
      r.fields.emplace_back(std::move(k), Value::number(d));
    } else {
      std::string s;
      if (!get_str(in, s)) return false;
      r.fields.emplace_back(std::move(k), Value::string(std::move(s)));
    }
  }
  return true;
}

const Value* CallArgs::get(std::string_view name) const {
  for (const auto& [k, v] : items)
    if (k == name) return &v;
  return nullptr;
}

std::string CallArgs::key() const {
  std::string r;
  for (const auto& [k, v] : items) {
    if (!r.empty()) r += ", ";
    r += k;
    r += '=';
    if (v.type == Type::string) {
      r += '"' + v.s + '"';
    } else if (v.type == Type::list) {
      std::vector<std::string> parts;
      for (const auto& x : *v.list) parts.push_back(x.type == Type::string ? '"' + x.s + '"' : x.text());
      r += "[" + join(parts, ", ") + "]";
    } else {
      r += v.text();
    }
  }
  return r;
}

long CheckContext::remaining_ms() const {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(d_deadline - SteadyClock::now()).count();
  return left > 0 ? static_cast<long>(left) : 0;
}

}  // namespace ppolicy
