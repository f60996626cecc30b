// The three ways of reading rotated sets into entry streams, one file each;
// make_entry_streams (entry_stream.cpp) chooses between them.
#pragma once

#include <memory>
#include <vector>

#include "replay/entry_stream.hpp"

namespace ailog {

// direct_stream.cpp: decoded on the calling thread; counts go straight to `stats`.
std::unique_ptr<EntryStream> make_direct_stream(const RotatedSet& set, std::span<const Mapping> mappings,
                                                const Clock& clock, const DecodeOptions& options, PipelineStats& stats);

// pooled_streams.cpp: several sets decoded by `workers` threads shared
// between them, and by the caller when the set it needs has nothing ready.
std::vector<std::unique_ptr<EntryStream>> make_pooled_streams(unsigned workers, const std::vector<RotatedSet>& sets,
                                                              std::span<const Mapping> mappings, const Clock& clock,
                                                              const DecodeOptions& options);

// parallel_stream.cpp: one set unwrapped on a thread of its own and its JSON
// decoded on `workers` threads, handed back in file order.
std::unique_ptr<EntryStream> make_parallel_stream(unsigned workers, const RotatedSet& set,
                                                  std::span<const Mapping> mappings, const Clock& clock,
                                                  const DecodeOptions& options);

}  // namespace ailog
