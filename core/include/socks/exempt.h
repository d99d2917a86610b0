// socks/exempt.h — marks a program that libsocksify.so must leave alone.
//
// A program that defines the symbol `socksify_exempt` in its dynamic symbol
// table is never socksified, whatever the configuration says: the library
// looks it up once, when it loads its state, and stays inert. socksd and the
// socksify launcher carry it, so a system-wide preload (/etc/ld.so.preload)
// can never route a proxy's own outgoing connections back into a proxy.
//
// Use: write SOCKSIFY_EXEMPT_PROGRAM once at namespace scope in the program,
// and link it with -Wl,--export-dynamic-symbol=socksify_exempt (an executable
// exports nothing by default).
#pragma once

#define SOCKSIFY_EXEMPT_PROGRAM \
  extern "C" __attribute__((visibility("default"), used)) const int socksify_exempt = 1;
