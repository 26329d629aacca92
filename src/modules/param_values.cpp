// SPDX-License-Identifier: GPL-2.0-or-later
#include "modules/param_values.hpp"

#include "base/strings.hpp"
#include "proto/request.hpp"

namespace ppolicy {

const ArgSpec k_values_arg = {
    "values", Type::list,
    "\"NAME=VALUE\" items replacing the request's values of the named parameters for this call; "
    "a parameter named several times is a list (cartesian product)"};

std::string request_value(const Request& request, std::string_view name, bool* found) {
  if (auto d = derived_from_name(name)) {
    *found = true;
    return request.derived(*d);
  }
  auto v = request.find(name);
  *found = v.has_value();
  return std::string(v.value_or(std::string_view()));
}

bool append_request_values(std::string& out, const Request& request,
                           const std::vector<std::string>& params, bool lowercase, char sep,
                           std::string* missing) {
  for (size_t i = 0; i < params.size(); ++i) {
    if (i) out += sep;
    size_t from = out.size();
    if (auto d = derived_from_name(params[i])) {
      out += request.derived(*d);
    } else if (auto v = request.find(params[i])) {
      out += *v;
    } else {
      *missing = params[i];
      return false;
    }
    if (lowercase) lower_in_place(out, from);
  }
  return true;
}

ParamValues param_values(const Request& request, const CallArgs& args,
                         const std::vector<std::string>& params, bool lowercase) {
  ParamValues out;
  out.values.resize(params.size());
  const Value* given = args.get("values");
  for (size_t i = 0; i < params.size(); ++i) {
    auto& vs = out.values[i];
    if (given && given->list) {
      for (const auto& item : *given->list) {
        auto eq = item.s.find('=');
        if (eq != std::string::npos && std::string_view(item.s).substr(0, eq) == params[i])
          vs.push_back(item.s.substr(eq + 1));
      }
    }
    if (vs.empty()) {
      bool found = false;
      std::string v = request_value(request, params[i], &found);
      if (!found && out.missing.empty()) out.missing = params[i];
      vs.push_back(std::move(v));
    }
    if (lowercase)  // in place (no copy)
      for (auto& v : vs)
        lower_in_place(v);
  }
  return out;
}

std::vector<std::vector<std::string>> cartesian(const std::vector<std::vector<std::string>>& values,
                                                size_t limit) {
  size_t n = 1;
  for (const auto& v : values) {
    if (v.empty()) return {};
    n *= v.size();
    if (n > limit) return {};
  }
  std::vector<std::vector<std::string>> out;
  out.reserve(n);
  std::vector<size_t> idx(values.size(), 0);
  for (size_t k = 0; k < n; ++k) {
    std::vector<std::string> combo;
    combo.reserve(values.size());
    for (size_t i = 0; i < values.size(); ++i)
      combo.push_back(values[i][idx[i]]);
    out.push_back(std::move(combo));
    // Odometer: the last parameter varies fastest, as itertools.product.
    for (size_t i = values.size(); i-- > 0;) {
      if (++idx[i] < values[i].size()) break;
      idx[i] = 0;
    }
  }
  return out;
}

std::string describe_combination(const std::vector<std::string>& params,
                                 const std::vector<std::string>& combo) {
  std::vector<std::string> parts;
  for (size_t i = 0; i < params.size() && i < combo.size(); ++i)
    parts.push_back(params[i] + "=" + combo[i]);
  return join(parts, ", ");
}

void append_key(std::string& key, const std::vector<std::vector<std::string>>& values) {
  for (const auto& vs : values) {
    key += std::to_string(vs.size());
    key += ':';
    for (const auto& v : vs) {
      key += std::to_string(v.size());
      key += ':';
      key += v;
    }
    key += ';';
  }
}

}  // namespace ppolicy
