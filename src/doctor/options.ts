/** Options of `doctor`, apart so that the CLI's flags load without the checks. */
export interface DoctorOptions {
  /** Also load and attach the BPF program for a moment (needs privileges). Default true. */
  readonly tryRecording: boolean;
  readonly browser: string;
}

export const DOCTOR_DEFAULTS: DoctorOptions = Object.freeze({ tryRecording: true, browser: '/usr/bin/chromium' });
