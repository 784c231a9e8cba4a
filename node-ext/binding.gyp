# node-gyp build of the `usdt` addon: the addon's C (and node-runtime's C++)
# with libusdt's sources compiled in. Offline on a machine with node's
# headers installed: `npm_config_nodedir=/usr npm install ./node-ext` (or
# `node-gyp rebuild --nodedir=/usr`); without it node-gyp downloads them.
{
  "targets": [
    {
      "target_name": "usdt",
      "sources": [
        "<!@(node -p \"require('fs').readdirSync('src').filter(f => /\\.cc?$/.test(f)).map(f => 'src/' + f).join(' ')\")",
        "<!@(node -p \"require('./gyp/libusdt.js').sources().join(' ')\")"
      ],
      "include_dirs": [
        "src",
        "<!(node -p \"require('./gyp/libusdt.js').dir() + '/include'\")",
        "<!(node -p \"require('./gyp/libusdt.js').dir() + '/src'\")"
      ],
      "defines": [ "_GNU_SOURCE", "NAPI_VERSION=8" ],
      "cflags": [ "-fvisibility=hidden", "-Wno-unused-parameter" ],
      "cflags_c": [ "-std=gnu11" ],
      "cflags_cc": [ "-std=c++20" ],
      "libraries": [ "-ldl", "-lpthread" ],
      "ldflags": [ "-Wl,-z,noexecstack" ]
    }
  ]
}
