// The bench's port picker, which draws below the ephemeral range (bench/http.ts says why).
export { freePort } from '../../bench/http.js';
