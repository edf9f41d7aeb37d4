// The probe measures the app's own function: the bench builds the probe with lib/cheap-json-buffer.ts in
// place of this file (measure.ts, buildProbeZip); this re-export only lets the source tree typecheck.
export { withCheapToJson } from '../../../lib/cheap-json-buffer';
