// SPDX-License-Identifier: GPL-2.0-or-later
#include "modules/module.hpp"

#include "base/codec.hpp"
#include "base/strings.hpp"

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

std::string Result::encode() const {
  std::string out;
  ByteWriter w(out);
  w.i32(code).str(info).u8(static_cast<uint8_t>(fields.size()));
  for (const auto& [k, v] : fields) {
    w.str(k);
    if (v.type == Type::number)
      w.u8('n').f64(v.n);
    else
      w.u8('s').str(v.s);
  }
  return out;
}

bool Result::decode(std::string_view in, Result& r) {
  ByteReader rd(in);
  r.code = rd.i32();
  r.info = rd.str();
  size_t n = rd.u8();
  r.fields.clear();
  for (size_t i = 0; i < n && rd.ok(); ++i) {
    std::string k(rd.str());
    if (rd.u8() == 'n')
      r.fields.emplace_back(std::move(k), Value::number(rd.f64()));
    else
      r.fields.emplace_back(std::move(k), Value::string(std::string(rd.str())));
  }
  return rd.ok();
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
      for (const auto& x : *v.list)
        parts.push_back(x.type == Type::string ? '"' + x.s + '"' : x.text());
      r += "[" + join(parts, ", ") + "]";
    } else {
      r += v.text();
    }
  }
  return r;
}

long CheckContext::remaining_ms() const {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(d_deadline - SteadyClock::now())
                  .count();
  return left > 0 ? static_cast<long>(left) : 0;
}

}  // namespace ppolicy
