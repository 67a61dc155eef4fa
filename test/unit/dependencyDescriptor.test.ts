import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseVp9, Vp9Descriptor } from "../../media-node/src/rtp/codecs/vp9.ts";
import {
  DD_MAX_FDIFFS,
  DependencyDescriptor,
  DependencyDescriptorError,
  DependencyDescriptorReader,
  decodeTargetFor,
  isFrameNeededFor,
  isSwitchPointFor,
  writeActiveDecodeTargets,
} from "../../media-node/src/rtp/dependencyDescriptor/index.ts";
import {
  extDataLength,
  extDataOffset,
  findHeaderExtension,
  parseRtp,
  RtpView,
} from "../../media-node/src/rtp/rtpPacket.ts";
import { chromiumVp9L3T3 } from "../fixtures/packets/chromium.ts";
import {
  BitWriter,
  encode,
  L1T3,
  L2T2,
  L3T3,
  type StructureSpec,
  type TemplateSpec,
} from "../fixtures/packets/ddWriter.ts";
import { hex, prng, randomBytes, toHex } from "../fixtures/packets/hex.ts";

// The vectors are built bit by bit with the test-only writer in test/fixtures/packets/ddWriter.ts
// (from the AV1 RTP specification's syntax tables, independently of the reader); one vector
// (L1T1) is also checked against hex worked out by hand.

function dtiString(d: DependencyDescriptor): string {
  let s = "";
  for (let i = 0; i < d.decodeTargetCount; i++) s += "-DSR"[d.dtis[i]];
  return s;
}
function fdiffList(d: DependencyDescriptor): number[] {
  return Array.from(d.fdiffs.subarray(0, d.fdiffCount));
}
function chainList(d: DependencyDescriptor): number[] {
  return Array.from(d.chainFdiffs.subarray(0, d.chainCount));
}

describe("dependency descriptor: hand vectors", () => {
  it("L1T1 structure packet matches the hex worked out by hand", () => {
    // c0 00 01: S=1 E=1 template 0, frame 1. Then 27 bits + 5 bits of padding:
    // flags 10000 | offset 000000 | dt_cnt_minus_one 00000 | next_layer_idc 11 |
    // dti 10 (switch) | fdiff_follows 0 | chain_cnt ns(2)=1: "1" | protected_by ns(1): no bits |
    // template_chain_fdiff 0000 | resolutions_present 0 | padding 00000
    const bytes = encode({
      sof: true,
      eof: true,
      templateId: 0,
      frameNumber: 1,
      structure: {
        offset: 0,
        dtCount: 1,
        chainCount: 1,
        protectedBy: [0],
        templates: [{ s: 0, t: 0, dtis: "S", fdiffs: [], chains: [0] }],
      },
    });
    assert.equal(toHex(bytes), toHex(hex("c0 00 01 | 80 00 e4 00")));
    const r = new DependencyDescriptorReader();
    const d = new DependencyDescriptor();
    assert.ok(r.parse(bytes, 0, bytes.length, d), String(r.lastError));
    assert.equal(d.startOfFrame, true);
    assert.equal(d.endOfFrame, true);
    assert.equal(d.frameNumber, 1);
    assert.equal(d.structurePresent, true);
    assert.equal(d.bitLength, 24 + 27);
    const st = r.structure!;
    assert.equal(st.templateCount, 1);
    assert.equal(st.decodeTargetCount, 1);
    assert.equal(st.chainCount, 1);
    assert.equal(st.resolutionsPresent, false);
    assert.equal(dtiString(d), "S");
    assert.equal(d.activeDecodeTargetsBitmask, 1);
    assert.equal(d.structure, st);
  });

  it("mandatory-only descriptor bytes", () => {
    const r = new DependencyDescriptorReader();
    const d = new DependencyDescriptor();
    // S=0 E=1 template 0x3d, frame 0xbeef.
    const b = hex("7d be ef");
    assert.equal(r.parse(b, 0, 3, d), false);
    assert.equal(r.lastError, "no_structure");
    // Mandatory fields are valid even though the frame could not be resolved.
    assert.equal(d.startOfFrame, false);
    assert.equal(d.endOfFrame, true);
    assert.equal(d.templateId, 0x3d);
    assert.equal(d.frameNumber, 0xbeef);
    assert.equal(d.templateIndex, -1);
  });
});

describe("dependency descriptor: L1T3", () => {
  const r = new DependencyDescriptorReader();
  const d = new DependencyDescriptor();

  it("structure on the key frame", () => {
    const b = encode({ sof: true, eof: true, templateId: 60, frameNumber: 100, structure: L1T3 });
    assert.ok(r.parse(b, 0, b.length, d), String(r.lastError));
    const st = r.structure!;
    assert.equal(st.templateIdOffset, 60);
    assert.equal(st.templateCount, 5);
    assert.equal(st.decodeTargetCount, 3);
    assert.equal(st.spatialLayerCount, 1);
    assert.equal(st.temporalLayerCount, 3);
    assert.deepEqual(Array.from(st.templateTemporalId.subarray(0, 5)), [0, 0, 1, 2, 2]);
    assert.deepEqual(Array.from(st.decodeTargetTemporalId.subarray(0, 3)), [0, 1, 2]);
    assert.deepEqual(Array.from(st.decodeTargetSpatialId.subarray(0, 3)), [0, 0, 0]);
    assert.equal(st.chainCount, 1);
    assert.deepEqual(Array.from(st.decodeTargetProtectedBy.subarray(0, 3)), [0, 0, 0]);
    assert.equal(st.templateFdiffCount(0), 0);
    assert.equal(st.templateFdiff(2, 0), 2);
    assert.equal(st.templateChainFdiff(4, 0), 3);
    assert.equal(d.templateIndex, 0);
    assert.equal(dtiString(d), "SSS");
    assert.deepEqual(fdiffList(d), []);
    assert.deepEqual(chainList(d), [0]);
    assert.equal(d.activeDecodeTargetsBitmask, 0b111);
    assert.equal(d.width, 0);
  });

  it("mandatory-only packets resolve through the stored structure (ids wrap at 64)", () => {
    const expect: [number, number, string, number[], number[]][] = [
      // templateId, temporal, dtis, fdiffs, chains
      [63, 2, "--D", [1], [1]],
      [62, 1, "-DR", [2], [2]],
      [0, 2, "--D", [1], [3]],
      [61, 0, "SSS", [4], [4]],
    ];
    let frame = 101;
    for (const [templateId, temporal, dtis, fdiffs, chains] of expect) {
      const b = encode({ sof: true, eof: true, templateId, frameNumber: frame++ });
      assert.equal(b.length, 3);
      assert.ok(r.parse(b, 0, 3, d), String(r.lastError));
      assert.equal(d.hasExtendedFields, false);
      assert.equal(d.temporalId, temporal);
      assert.equal(d.spatialId, 0);
      assert.equal(dtiString(d), dtis);
      assert.deepEqual(fdiffList(d), fdiffs);
      assert.deepEqual(chainList(d), chains);
      assert.equal(d.frameNumber, frame - 1);
      // Forwarding: a T2 frame is needed only for DT2, T1 for DT1 and DT2, T0 for all.
      for (let dt = 0; dt < 3; dt++) assert.equal(isFrameNeededFor(d, dt), dt >= temporal);
    }
  });

  it("template ids outside [offset, offset + count) are rejected", () => {
    const before = r.structure;
    for (const templateId of [1, 2, 30, 59]) {
      const b = encode({ templateId, frameNumber: 7 });
      assert.equal(r.parse(b, 0, 3, d), false);
      assert.equal(r.lastError, "bad_template_id");
      assert.equal(d.templateIndex, -1);
      assert.equal(d.frameNumber, 7);
    }
    assert.equal(r.structure, before);
    assert.throws(
      () => r.parseOrThrow(encode({ templateId: 1, frameNumber: 1 }), 0, 3, d),
      (e: unknown) => e instanceof DependencyDescriptorError && e.code === "bad_template_id",
    );
  });

  it("decode target selection", () => {
    const st = r.structure!;
    assert.equal(decodeTargetFor(st, 0, 0), 0);
    assert.equal(decodeTargetFor(st, 0, 1), 1);
    assert.equal(decodeTargetFor(st, 0, 2), 2);
    // Above what exists: the highest below.
    assert.equal(decodeTargetFor(st, 3, 7), 2);
    // Inactive targets are skipped.
    assert.equal(decodeTargetFor(st, 0, 2, 0b011), 1);
    assert.equal(decodeTargetFor(st, 0, 2, 0), -1);
  });
});

describe("dependency descriptor: L2T2 and L3T3", () => {
  it("L2T2: spatial layers, chains, resolutions, decode targets", () => {
    const r = new DependencyDescriptorReader();
    const d = new DependencyDescriptor();
    const key = encode({ sof: true, eof: false, templateId: 0, frameNumber: 1, structure: L2T2 });
    assert.ok(r.parse(key, 0, key.length, d), String(r.lastError));
    const st = r.structure!;
    assert.equal(st.spatialLayerCount, 2);
    assert.equal(st.temporalLayerCount, 2);
    assert.deepEqual(Array.from(st.decodeTargetSpatialId.subarray(0, 4)), [0, 0, 1, 1]);
    assert.deepEqual(Array.from(st.decodeTargetTemporalId.subarray(0, 4)), [0, 1, 0, 1]);
    assert.deepEqual(Array.from(st.decodeTargetProtectedBy.subarray(0, 4)), [0, 0, 1, 1]);
    assert.equal(d.width, 320);
    assert.equal(d.height, 180);
    assert.equal(d.activeDecodeTargetsBitmask, 0b1111);

    const s1 = encode({ templateId: 5, frameNumber: 4, eof: true });
    assert.ok(r.parse(s1, 0, 3, d));
    assert.equal(d.spatialId, 1);
    assert.equal(d.temporalId, 1);
    assert.equal(d.width, 640);
    assert.equal(d.height, 360);
    assert.deepEqual(fdiffList(d), [2, 1]);
    assert.deepEqual(chainList(d), [3, 2]);
    assert.deepEqual(
      [0, 1, 2, 3].map((dt) => isFrameNeededFor(d, dt)),
      [false, false, false, true],
    );

    const s0t0 = encode({ templateId: 1, frameNumber: 5 });
    assert.ok(r.parse(s0t0, 0, 3, d));
    assert.deepEqual(
      [0, 1, 2, 3].map((dt) => isFrameNeededFor(d, dt)),
      [true, true, true, true],
    );
    assert.equal(isSwitchPointFor(d, 0), true);
    assert.equal(isSwitchPointFor(d, 2), false);
    assert.equal(isFrameNeededFor(d, 4), false);
    assert.equal(isFrameNeededFor(d, -1), false);

    assert.equal(decodeTargetFor(st, 1, 1), 3);
    assert.equal(decodeTargetFor(st, 1, 0), 2);
    assert.equal(decodeTargetFor(st, 0, 1), 1);
    assert.equal(decodeTargetFor(st, 2, 0), 2);
    assert.equal(decodeTargetFor(st, 1, 1, 0b0011), 1);
  });

  it("L3T3: custom DTIs / fdiffs (4, 8, 12 bits) / chains, active decode targets, rewrite", () => {
    const r = new DependencyDescriptorReader();
    const d = new DependencyDescriptor();
    const key = encode({
      sof: true,
      templateId: 5,
      frameNumber: 0xffff,
      structure: L3T3,
      active: { mask: 0b000111111, dtCount: 9 },
    });
    assert.ok(r.parse(key, 0, key.length, d), String(r.lastError));
    const st = r.structure!;
    assert.equal(st.templateCount, 9);
    assert.equal(st.spatialLayerCount, 3);
    assert.equal(st.temporalLayerCount, 3);
    assert.equal(st.renderWidth[2], 1280);
    assert.equal(st.renderHeight[2], 720);
    for (let s = 0; s < 3; s++) {
      for (let t = 0; t < 3; t++) assert.equal(decodeTargetFor(st, s, t), s * 3 + t);
    }
    assert.equal(d.activeDecodeTargetsPresent, true);
    assert.equal(d.activeDecodeTargetsBitmask, 0b000111111);
    assert.equal(r.activeDecodeTargetsBitmask, 0b000111111);
    // With S2 inactive, asking for S2T2 lands on S1T2.
    assert.equal(decodeTargetFor(st, 2, 2, d.activeDecodeTargetsBitmask), 5);

    // Rewrite the bitmask in place and parse again (a fresh reader sees the new value).
    const copy = Buffer.from(key);
    assert.ok(writeActiveDecodeTargets(copy, 0, d, 0b000000111));
    const r2 = new DependencyDescriptorReader();
    const d2 = new DependencyDescriptor();
    assert.ok(r2.parse(copy, 0, copy.length, d2));
    assert.equal(d2.activeDecodeTargetsBitmask, 0b000000111);
    assert.ok(r2.structure!.equals(st));

    // A later packet with everything custom (template 5 + 4 = S1T1).
    const p = encode({
      templateId: 9,
      frameNumber: 3,
      customDtis: "RSD-RSD-R",
      customFdiffs: [1, 16, 17, 256, 257, 4096],
      customChains: [0, 255, 7],
    });
    assert.ok(r.parse(p, 0, p.length, d), String(r.lastError));
    assert.equal(d.spatialId, 1);
    assert.equal(d.temporalId, 1);
    assert.equal(dtiString(d), "RSD-RSD-R");
    assert.deepEqual(fdiffList(d), [1, 16, 17, 256, 257, 4096]);
    assert.deepEqual(chainList(d), [0, 255, 7]);
    assert.equal(d.width, 640);
    // The bitmask persists while no packet carries a new one.
    assert.equal(d.activeDecodeTargetsPresent, false);
    assert.equal(d.activeDecodeTargetsBitmask, 0b000111111);
    assert.equal(writeActiveDecodeTargets(Buffer.from(p), 0, d, 1), false);

    // Active decode targets without a structure in the packet use the stored DtCnt.
    const a = encode({ templateId: 5, frameNumber: 4, active: { mask: 0x1ff, dtCount: 9 } });
    assert.ok(r.parse(a, 0, a.length, d));
    assert.equal(d.activeDecodeTargetsBitmask, 0x1ff);
    assert.equal(d.activeDecodeTargetsBitOffset, 29);
  });

  it("32 decode targets: bitmask is unsigned", () => {
    const templates: TemplateSpec[] = [
      { s: 0, t: 0, dtis: "S".repeat(32), fdiffs: [], chains: [] },
    ];
    const structure: StructureSpec = {
      offset: 0,
      dtCount: 32,
      chainCount: 0,
      protectedBy: [],
      templates,
    };
    const r = new DependencyDescriptorReader();
    const d = new DependencyDescriptor();
    const b = encode({ templateId: 0, frameNumber: 0, structure });
    assert.ok(r.parse(b, 0, b.length, d), String(r.lastError));
    assert.equal(d.activeDecodeTargetsBitmask, 0xffffffff);
    assert.equal(d.chainCount, 0);
    const b2 = encode({ templateId: 0, frameNumber: 1, active: { mask: 0x80000001, dtCount: 32 } });
    assert.ok(r.parse(b2, 0, b2.length, d));
    assert.equal(d.activeDecodeTargetsBitmask, 0x80000001);
    assert.ok(writeActiveDecodeTargets(b2, 0, d, 0xfffffffe));
    assert.ok(r.parse(b2, 0, b2.length, d));
    assert.equal(d.activeDecodeTargetsBitmask, 0xfffffffe);

    const limited = new DependencyDescriptorReader({ maxDecodeTargets: 16 });
    assert.equal(limited.parse(b, 0, b.length, d), false);
    assert.equal(limited.lastError, "too_many_decode_targets");
  });

  it("every chain count from 0 to DtCnt (ns() round trip)", () => {
    for (let dtCount = 1; dtCount <= 12; dtCount++) {
      for (let chainCount = 0; chainCount <= dtCount; chainCount++) {
        const protectedBy = Array.from({ length: dtCount }, (_, i) =>
          chainCount ? (i * 7) % chainCount : 0,
        );
        const chains = Array.from({ length: chainCount }, (_, i) => (i * 5) % 16);
        const structure: StructureSpec = {
          offset: 17,
          dtCount,
          chainCount,
          protectedBy,
          templates: [{ s: 0, t: 0, dtis: "R".repeat(dtCount), fdiffs: [3], chains }],
        };
        const r = new DependencyDescriptorReader();
        const d = new DependencyDescriptor();
        const b = encode({ templateId: 17, frameNumber: 0, structure });
        assert.ok(r.parse(b, 0, b.length, d), `${dtCount}/${chainCount}: ${r.lastError}`);
        const st = r.structure!;
        assert.equal(st.chainCount, chainCount);
        if (chainCount) {
          assert.deepEqual(
            Array.from(st.decodeTargetProtectedBy.subarray(0, dtCount)),
            protectedBy,
          );
        }
        assert.deepEqual(chainList(d), chains);
        assert.deepEqual(fdiffList(d), [3]);
      }
    }
  });
});

describe("dependency descriptor: stream state", () => {
  it("Chromium-like sequence: structure on the key frame, then mandatory-only packets", () => {
    const r = new DependencyDescriptorReader();
    const d = new DependencyDescriptor();
    // Before any key frame: mandatory-only packets can't be resolved.
    assert.equal(r.parse(encode({ templateId: 1, frameNumber: 9 }), 0, 3, d), false);
    assert.equal(r.lastError, "no_structure");
    // Key frame over three packets: the structure on the first only.
    const packets: Buffer[] = [
      encode({ sof: true, templateId: 0, frameNumber: 10, structure: L2T2 }),
      encode({ templateId: 0, frameNumber: 10 }),
      encode({ eof: true, templateId: 0, frameNumber: 10 }),
      encode({ sof: true, eof: true, templateId: 3, frameNumber: 11 }),
      encode({ sof: true, eof: true, templateId: 2, frameNumber: 12 }),
      encode({ sof: true, eof: true, templateId: 5, frameNumber: 13 }),
      encode({ sof: true, eof: true, templateId: 1, frameNumber: 14 }),
      encode({ sof: true, eof: true, templateId: 4, frameNumber: 15 }),
    ];
    const seen: string[] = [];
    const forwardedFor1: number[] = [];
    for (const p of packets) {
      assert.ok(r.parse(p, 0, p.length, d), String(r.lastError));
      seen.push(`${d.frameNumber}:S${d.spatialId}T${d.temporalId}`);
      // A subscriber on S0T1 (decode target 1) gets only what it needs.
      if (isFrameNeededFor(d, decodeTargetFor(d.structure!, 0, 1))) {
        forwardedFor1.push(d.frameNumber);
      }
    }
    assert.deepEqual(seen, [
      "10:S0T0",
      "10:S0T0",
      "10:S0T0",
      "11:S1T0",
      "12:S0T1",
      "13:S1T1",
      "14:S0T0",
      "15:S1T0",
    ]);
    assert.deepEqual(forwardedFor1, [10, 10, 10, 12, 14]);
    assert.equal(r.structureChanges, 1);
  });

  it("an identical structure keeps the stored object; a different one replaces it", () => {
    const r = new DependencyDescriptorReader();
    const d = new DependencyDescriptor();
    const k1 = encode({ sof: true, templateId: 0, frameNumber: 1, structure: L2T2 });
    assert.ok(r.parse(k1, 0, k1.length, d));
    const first = r.structure;
    assert.ok(r.parse(k1, 0, k1.length, d));
    assert.equal(r.structure, first);
    assert.equal(d.structure, first);
    assert.equal(r.structureChanges, 1);
    const k2 = encode({ sof: true, templateId: 60, frameNumber: 2, structure: L1T3 });
    assert.ok(r.parse(k2, 0, k2.length, d));
    assert.notEqual(r.structure, first);
    assert.equal(r.structure!.decodeTargetCount, 3);
    assert.equal(r.structureChanges, 2);
    // A new structure resets the active decode targets to all.
    const a = encode({ templateId: 60, frameNumber: 3, active: { mask: 1, dtCount: 3 } });
    assert.ok(r.parse(a, 0, a.length, d));
    assert.equal(r.activeDecodeTargetsBitmask, 1);
    assert.ok(r.parse(k2, 0, k2.length, d));
    assert.equal(r.activeDecodeTargetsBitmask, 0b111);
  });

  it("a packet that fails after its structure commits nothing", () => {
    const r = new DependencyDescriptorReader();
    const d = new DependencyDescriptor();
    const k = encode({ sof: true, templateId: 0, frameNumber: 1, structure: L2T2 });
    assert.ok(r.parse(k, 0, k.length, d));
    const stored = r.structure;
    // L1T3 structure, but template id 10 is outside [60, 65) mod 64.
    const bad = encode({ sof: true, templateId: 10, frameNumber: 2, structure: L1T3 });
    assert.equal(r.parse(bad, 0, bad.length, d), false);
    assert.equal(r.lastError, "bad_template_id");
    assert.equal(r.structure, stored);
    assert.ok(r.parse(encode({ templateId: 5, frameNumber: 3 }), 0, 3, d));
    assert.equal(d.spatialId, 1);
  });

  it("extended fields without any structure: no_structure", () => {
    const r = new DependencyDescriptorReader();
    const d = new DependencyDescriptor();
    for (const p of [
      encode({ templateId: 0, frameNumber: 0, extended: true }),
      encode({ templateId: 0, frameNumber: 0, active: { mask: 1, dtCount: 1 } }),
      encode({ templateId: 0, frameNumber: 0, customDtis: "S" }),
    ]) {
      assert.equal(r.parse(p, 0, p.length, d), false);
      assert.equal(r.lastError, "no_structure");
    }
  });

  it("offset inside a larger buffer", () => {
    const r = new DependencyDescriptorReader();
    const d = new DependencyDescriptor();
    const k = encode({ sof: true, templateId: 5, frameNumber: 1, structure: L3T3 });
    const big = Buffer.concat([Buffer.from([0xff, 0xff, 0xff]), k, Buffer.from([0xff, 0xff])]);
    assert.ok(r.parse(big, 3, k.length, d), String(r.lastError));
    assert.equal(r.structure!.templateCount, 9);
    // The bytes after the extension are not read: one byte short is truncated.
    assert.equal(r.parse(big, 3, k.length - 1, d), false);
    assert.equal(r.lastError, "truncated");
  });
});

describe("dependency descriptor: malformed input", () => {
  it("truncated at every length: false with 'truncated', never a throw", () => {
    const d = new DependencyDescriptor();
    const vectors = [
      encode({ sof: true, templateId: 60, frameNumber: 1, structure: L1T3 }),
      encode({ sof: true, templateId: 0, frameNumber: 1, structure: L2T2 }),
      encode({
        sof: true,
        templateId: 5,
        frameNumber: 1,
        structure: L3T3,
        active: { mask: 3, dtCount: 9 },
        customDtis: "SSSSSSSSS",
        customFdiffs: [1, 300, 4000],
        customChains: [1, 2, 3],
      }),
    ];
    for (const v of vectors) {
      const full = new DependencyDescriptorReader();
      assert.ok(full.parse(v, 0, v.length, d), String(full.lastError));
      for (let len = 0; len < v.length; len++) {
        const r = new DependencyDescriptorReader();
        // Exactly the truncated bytes, so that no read can go past them.
        const cut = Buffer.from(v.subarray(0, len));
        const ok = r.parse(cut, 0, len, d);
        assert.equal(ok, false, `length ${len}`);
        // 3 bytes is a valid mandatory-only descriptor, but there is no structure yet.
        assert.equal(r.lastError, len === 3 ? "no_structure" : "truncated", `length ${len}`);
        // With the structure known, the cut packet still fails (or, at 3, resolves).
        assert.equal(full.parse(cut, 0, len, d), len === 3, `length ${len} (with structure)`);
      }
      // Offsets and lengths outside the buffer.
      const r = new DependencyDescriptorReader();
      assert.equal(r.parse(v, 1, v.length, d), false);
      assert.equal(r.lastError, "truncated");
      assert.equal(r.parse(v, -1, 3, d), false);
      assert.equal(r.parse(v, 0, -1, d), false);
    }
  });

  it("limits: templates, spatial and temporal layers, fdiffs", () => {
    const d = new DependencyDescriptor();
    const r = new DependencyDescriptorReader();
    const head = () => new BitWriter().f(24, 0).f(5, 0b10000).f(6, 0).f(5, 0);
    const pad = (w: BitWriter) => Buffer.concat([w.bytes(), Buffer.alloc(64)]);
    // 65 templates: next_layer_idc 0 sixty-four times.
    let w = head();
    for (let i = 0; i < 64; i++) w.f(2, 0);
    assert.equal(r.parse(pad(w), 0, pad(w).length, d), false);
    assert.equal(r.lastError, "too_many_templates");
    // 5 spatial layers.
    w = head();
    for (let i = 0; i < 4; i++) w.f(2, 2);
    assert.equal(r.parse(pad(w), 0, pad(w).length, d), false);
    assert.equal(r.lastError, "too_many_spatial_layers");
    // 9 temporal layers.
    w = head();
    for (let i = 0; i < 8; i++) w.f(2, 1);
    assert.equal(r.parse(pad(w), 0, pad(w).length, d), false);
    assert.equal(r.lastError, "too_many_temporal_layers");
    // 64 templates (the maximum) is fine.
    const many: TemplateSpec[] = Array.from({ length: 64 }, () => ({
      s: 0,
      t: 0,
      dtis: "S",
      fdiffs: [1],
      chains: [],
    }));
    const b = encode({
      templateId: 63,
      frameNumber: 0,
      structure: { offset: 0, dtCount: 1, chainCount: 0, protectedBy: [], templates: many },
    });
    assert.ok(r.parse(b, 0, b.length, d), String(r.lastError));
    assert.equal(r.structure!.templateCount, 64);
    assert.equal(d.templateIndex, 63);
    // More custom frame fdiffs than DD_MAX_FDIFFS (longer than any real extension).
    const fd = encode({
      templateId: 0,
      frameNumber: 1,
      customFdiffs: Array.from({ length: DD_MAX_FDIFFS + 1 }, () => 2),
    });
    assert.equal(r.parse(fd, 0, fd.length, d), false);
    assert.equal(r.lastError, "too_many_fdiffs");
  });

  it("seeded fuzz: 20k random buffers, never a throw", () => {
    const rnd = prng(0xdd2024);
    const d = new DependencyDescriptor();
    const seeded = new DependencyDescriptorReader();
    const k = encode({ sof: true, templateId: 5, frameNumber: 1, structure: L3T3 });
    const valid = [
      k,
      encode({ sof: true, templateId: 0, frameNumber: 1, structure: L2T2 }),
      encode({ templateId: 9, frameNumber: 3, customDtis: "RSD-RSD-R", customFdiffs: [1, 300] }),
    ];
    let oks = 0;
    for (let i = 0; i < 20000; i++) {
      let b: Buffer;
      if (i % 2 === 0) {
        b = randomBytes(rnd, Math.floor(rnd() * 48));
        // Bias towards structure-present packets so the structure parser is exercised.
        if (b.length > 3 && rnd() < 0.5) b[3] |= 0x80;
      } else {
        b = Buffer.from(valid[Math.floor(rnd() * valid.length)]);
        const flips = 1 + Math.floor(rnd() * 4);
        for (let f = 0; f < flips; f++) b[Math.floor(rnd() * b.length)] ^= 1 << (rnd() * 8);
      }
      const reader = i % 3 === 0 ? new DependencyDescriptorReader() : seeded;
      const offset = b.length > 0 ? Math.floor(rnd() * 2) : 0;
      const length = Math.max(0, b.length - offset - Math.floor(rnd() * 2));
      const ok = reader.parse(b, offset, length, d);
      assert.equal(typeof ok, "boolean");
      assert.equal(ok, reader.lastError === null);
      if (ok) {
        oks++;
        const st = d.structure!;
        assert.ok(d.templateIndex >= 0 && d.templateIndex < st.templateCount);
        assert.ok(d.spatialId < st.spatialLayerCount && d.temporalId < st.temporalLayerCount);
        assert.ok(d.bitLength <= length * 8);
        assert.equal(d.decodeTargetCount, st.decodeTargetCount);
      }
      if (i % 1000 === 0) seeded.parse(k, 0, k.length, d);
    }
    assert.ok(oks > 100, `only ${oks} random packets parsed`);
  });
});

describe("dependency descriptor: packets captured from Chromium (VP9 L3T3)", () => {
  const cap = chromiumVp9L3T3();
  const view = new RtpView();
  const vp9 = new Vp9Descriptor();

  /** Each packet's descriptor bytes (offset, length) in its buffer. */
  function ddOf(b: Buffer): [number, number] {
    assert.ok(parseRtp(b, b.length, view));
    const ext = findHeaderExtension(b, view, cap.dependencyDescriptorId);
    assert.ok(ext >= 0, `packet ${view.sequenceNumber} has a dependency descriptor`);
    return [extDataOffset(ext), extDataLength(ext)];
  }

  it("the keyframe's structure: 9 decode targets (S0..S2 x T0..T2), 3 chains, resolutions", () => {
    const r = new DependencyDescriptorReader();
    const d = new DependencyDescriptor();
    const [off, len] = ddOf(cap.packets[0]);
    assert.ok(r.parse(cap.packets[0], off, len, d), String(r.lastError));
    assert.equal(d.structurePresent, true);
    assert.equal(d.startOfFrame, true);
    assert.deepEqual([d.spatialId, d.temporalId, d.fdiffCount], [0, 0, 0]);
    assert.equal(dtiString(d), "SSSSSSSSS");
    const st = r.structure!;
    assert.equal(st.decodeTargetCount, 9);
    assert.equal(st.spatialLayerCount, 3);
    assert.equal(st.temporalLayerCount, 3);
    assert.equal(st.chainCount, 3);
    for (let dt = 0; dt < 9; dt++) {
      assert.equal(st.decodeTargetSpatialId[dt], Math.floor(dt / 3));
      assert.equal(st.decodeTargetTemporalId[dt], dt % 3);
      assert.equal(st.decodeTargetProtectedBy[dt], Math.floor(dt / 3));
    }
    assert.deepEqual(Array.from(st.renderWidth.subarray(0, 3)), [240, 480, 960]);
    assert.deepEqual(Array.from(st.renderHeight.subarray(0, 3)), [135, 270, 540]);
    for (let s = 0; s < 3; s++) {
      for (let t = 0; t < 3; t++) assert.equal(decodeTargetFor(st, s, t), s * 3 + t);
    }
  });

  it("every packet parses; frame numbers, layers and DTIs agree with the VP9 descriptor", () => {
    const r = new DependencyDescriptorReader();
    const d = new DependencyDescriptor();
    let frames = 0;
    let lastFrame = -1;
    for (const b of cap.packets) {
      const [off, len] = ddOf(b);
      assert.ok(r.parse(b, off, len, d), `${view.sequenceNumber}: ${r.lastError}`);
      assert.ok(parseVp9(b, view.payloadOffset, view.payloadLength, vp9));
      assert.equal(d.spatialId, vp9.sid, `spatial id of ${view.sequenceNumber}`);
      assert.equal(d.temporalId, vp9.tid, `temporal id of ${view.sequenceNumber}`);
      assert.equal(d.startOfFrame, vp9.startOfFrame);
      assert.equal(d.endOfFrame, vp9.endOfFrame);
      if (d.startOfFrame) {
        frames++;
        // One frame number per layer frame, consecutive.
        if (lastFrame >= 0) assert.equal(d.frameNumber, (lastFrame + 1) & 0xffff);
        lastFrame = d.frameNumber;
      } else {
        assert.equal(d.frameNumber, lastFrame);
      }
      // L3T3 (full SVC): a frame is in decode target SxTy iff its layer is not above it.
      for (let dt = 0; dt < 9; dt++) {
        const inTarget = d.spatialId <= Math.floor(dt / 3) && d.temporalId <= dt % 3;
        assert.equal(isFrameNeededFor(d, dt), inTarget, `${view.sequenceNumber} in DT ${dt}`);
      }
      // Every reference is an earlier frame of this capture or the keyframe itself.
      for (let i = 0; i < d.fdiffCount; i++) assert.ok(d.fdiffs[i] >= 1);
      if (d.endOfFrame && d.spatialId === 2) assert.equal(view.marker, true);
    }
    assert.equal(r.structureChanges, 1);
    assert.ok(frames >= 20, `${frames} frames`);
  });

  it("truncating each captured descriptor is a typed failure, never a throw", () => {
    const r = new DependencyDescriptorReader();
    const d = new DependencyDescriptor();
    const [off, len] = ddOf(cap.packets[0]);
    for (let n = 0; n < len; n++) {
      assert.equal(r.parse(cap.packets[0], off, n, d), false);
      assert.ok(
        r.lastError === "truncated" || r.lastError === "no_structure",
        `${n}: ${r.lastError}`,
      );
    }
  });
});
