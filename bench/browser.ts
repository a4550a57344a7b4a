import { type Browser, chromium } from 'playwright-core';

/** Debian's chromium (`apt-get install chromium`); CHROMIUM_PATH names another. */
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH || '/usr/bin/chromium';

/** Headless, on a closed network: no sandbox (root in CI), no GPU, nothing phoning home. */
export const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'];

/** Chromium's processes (the browser, its renderers, GPU and utility processes), told apart by their command line. */
export const CHROMIUM_COMMAND = /^(\S*\/)?(chromium|chrome|headless_shell)(\s|$)/;

export const launchChromium = (): Promise<Browser> => chromium.launch({ executablePath: CHROMIUM_PATH, headless: true, args: CHROMIUM_ARGS });
