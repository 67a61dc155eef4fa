/** Forwarding decisions from a parsed dependency descriptor. */
import {
  type DependencyDescriptor,
  type DependencyStructure,
  DTI_NOT_PRESENT,
  DTI_SWITCH,
} from "./types.ts";

/** The frame is part of decode target `decodeTarget` (its DTI is not "not present"). */
export function isFrameNeededFor(desc: DependencyDescriptor, decodeTarget: number): boolean {
  return (
    decodeTarget >= 0 &&
    decodeTarget < desc.decodeTargetCount &&
    desc.dtis[decodeTarget] !== DTI_NOT_PRESENT
  );
}

/** The frame is a switch point for `decodeTarget` (DTI "switch"): a subscriber may start here. */
export function isSwitchPointFor(desc: DependencyDescriptor, decodeTarget: number): boolean {
  return (
    decodeTarget >= 0 &&
    decodeTarget < desc.decodeTargetCount &&
    desc.dtis[decodeTarget] === DTI_SWITCH
  );
}

/**
 * The decode target for a wanted spatial/temporal layer: the one whose (spatial, temporal)
 * is exactly that, else the highest one (by spatial, then temporal id) not above it in either;
 * only decode targets whose bit is set in activeMask are considered. -1 if none.
 */
export function decodeTargetFor(
  structure: DependencyStructure,
  spatial: number,
  temporal: number,
  activeMask = 0xffffffff,
): number {
  let best = -1;
  let bestS = -1;
  let bestT = -1;
  for (let i = 0; i < structure.decodeTargetCount; i++) {
    if (((activeMask >>> i) & 1) === 0) continue;
    const s = structure.decodeTargetSpatialId[i];
    const t = structure.decodeTargetTemporalId[i];
    if (s === spatial && t === temporal) return i;
    if (s > spatial || t > temporal) continue;
    if (s > bestS || (s === bestS && t > bestT)) {
      best = i;
      bestS = s;
      bestT = t;
    }
  }
  return best;
}
