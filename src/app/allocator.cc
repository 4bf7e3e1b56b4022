// jemalloc's compiled-in options (ADR 4). MALLOC_CONF in the environment is read after these and
// overrides them, e.g. MALLOC_CONF=thp:default to leave transparent huge pages to the system.
#ifdef SHOAL_JEMALLOC
extern "C" {
// Transparent huge pages for jemalloc's extents and metadata: page faults on fresh memory
// (growing write batches, memtable blocks) were ~8% of the engine bench on a paravirtualized
// guest; with huge pages the engine ran 1.2-1.3x faster for ~10% more peak RSS.
// NOLINTNEXTLINE(cppcoreguidelines-avoid-non-const-global-variables): read by jemalloc
const char* malloc_conf = "thp:always,metadata_thp:auto";
}
#endif
