// SPDX-License-Identifier: GPL-2.0-or-later
// libFuzzer target: the streaming protocol reader (src/proto/reader.cpp) and
// the request it fills (src/proto/request.cpp). Hostile bytes arrive split
// at fuzzer-chosen points, as a network would split them; every complete
// request's attributes and derived attributes are read back. Built with
// clang by t/fuzz/fuzz.mk; run by t/fuzz/run.sh under ASan+UBSan.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "proto/reader.hpp"
#include "proto/request.hpp"

using namespace ppolicy;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  // First byte: chunk size of the "network" (1..256 bytes per read);
  // second byte: small limits or the daemon's defaults.
  size_t chunk = static_cast<size_t>(data[0]) + 1;
  ProtocolLimits limits;
  if (data[1] & 1) limits = ProtocolLimits{256, 1024, 16};
  data += 2;
  size -= 2;
  RequestReader reader(limits);
  Request request;
  std::string why;
  size_t sink = 0;
  for (size_t off = 0; off < size; off += chunk) {
    size_t n = std::min(chunk, size - off);
    reader.append(std::string_view(reinterpret_cast<const char*>(data + off), n));
    RequestReader::Status st;
    while ((st = reader.next(request, &why)) == RequestReader::Status::complete) {
      for (const auto& [k, v] : request.attributes())
        sink += request.get(k).size() + v.size();
      for (int a = 0; a < k_attr_count; ++a)
        sink += request.get(static_cast<Attr>(a)).size();
      for (int d = 0; d < static_cast<int>(Derived::count_); ++d)
        sink += request.derived(static_cast<Derived>(d)).size();
      request.set("result_x_code", "1");  // as modules save results
    }
    if (st == RequestReader::Status::error) {
      if (why.empty()) __builtin_trap();  // an error always says why
      return 0;
    }
    if (reader.pending().size() > limits.max_request + n + limits.max_line)
      __builtin_trap();  // bounded buffer
  }
  return static_cast<int>(sink & 0);
}
