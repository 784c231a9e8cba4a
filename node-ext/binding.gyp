# node-gyp build of the `usdt` addon, in two targets:
#  usdt: N-API only (the addon's C with libusdt's sources compiled in); it
#    would load on any node >= 18, but node-gyp builds for the node it runs.
#    USDT_STATIC_BUILD: libusdt's API stays hidden inside the addon, as
#    make's --exclude-libs does; only N-API's entry points are exported.
#  usdt_gc: the runtime provider's GC part (gc/gc.cc, V8's C++ API), tied to
#    the major of the headers it is built with; lib/runtime.js loads it only
#    when a tracer wants node:gc__start/gc__done, and after a node upgrade
#    refuses it with one warning until `npm rebuild usdt`.
# Offline on a machine with node's headers installed:
# `npm_config_nodedir=/usr npm install ./node-ext` (or `node-gyp rebuild
# --nodedir=/usr`; an official node tarball's directory for its node); without
# it node-gyp downloads them.
{
  "targets": [
    {
      "target_name": "usdt",
      "sources": [
        "<!@(node -p \"require('fs').readdirSync('src').filter(f => /\\.c$/.test(f)).map(f => 'src/' + f).join(' ')\")",
        "<!@(node -p \"require('./gyp/libusdt.js').sources().join(' ')\")"
      ],
      "include_dirs": [
        "src",
        "<!(node -p \"require('./gyp/libusdt.js').dir() + '/include'\")",
        "<!(node -p \"require('./gyp/libusdt.js').dir() + '/src'\")"
      ],
      "defines": [ "_GNU_SOURCE", "NAPI_VERSION=8", "USDT_STATIC_BUILD" ],
      "cflags": [ "-fvisibility=hidden", "-Wno-unused-parameter" ],
      "cflags_c": [ "-std=gnu11" ],
      "libraries": [ "-ldl", "-lpthread" ],
      "ldflags": [ "-Wl,-z,noexecstack" ]
    },
    {
      "target_name": "usdt_gc",
      "sources": [ "gc/gc.cc" ],
      "include_dirs": [ "src" ],
      "cflags": [ "-fvisibility=hidden", "-Wno-unused-parameter" ],
      "cflags_cc": [ "-std=c++20" ],
      "ldflags": [ "-Wl,-z,lazy", "-Wl,-z,noexecstack" ]
    }
  ]
}
