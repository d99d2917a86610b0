// replay_main.cpp — runs a libFuzzer target over files, without libFuzzer.
//
// Usage: fuzz_<name> PATH...   where each PATH is a file or a directory whose
// regular files (not recursively) are inputs. Every input is passed to
// LLVMFuzzerTestOneInput once; a crash or sanitizer report fails the run.
// Used by ctest (the corpus in tests/fuzz/corpus/<name>/) under GCC builds.
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <system_error>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

namespace {

bool runFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    std::fprintf(stderr, "replay: cannot read %s\n", path.c_str());
    return false;
  }
  std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  // Copy into an exactly sized heap block so ASan catches any over-read.
  std::vector<std::uint8_t> input(bytes.begin(), bytes.end());
  LLVMFuzzerTestOneInput(input.empty() ? nullptr : input.data(), input.size());
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  std::size_t ran = 0;
  bool ok = true;
  for (int i = 1; i < argc; ++i) {
    const std::filesystem::path arg(argv[i]);
    std::error_code ec;
    if (std::filesystem::is_directory(arg, ec)) {
      for (const auto& entry : std::filesystem::directory_iterator(arg, ec)) {
        if (entry.is_regular_file(ec)) {
          ok = runFile(entry.path()) && ok;
          ++ran;
        }
      }
      if (ec) {
        std::fprintf(stderr, "replay: cannot list %s: %s\n", arg.c_str(), ec.message().c_str());
        ok = false;
      }
    } else {
      ok = runFile(arg) && ok;
      ++ran;
    }
  }
  std::printf("replay: ran %zu inputs\n", ran);
  return ok ? 0 : 1;
}
