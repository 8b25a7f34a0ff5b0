import { SessionFileError, SessionReader } from '@agent-replay/format';
import { UserError } from './errors.js';

/** Opens a session for reading, turning file problems into one-line user errors. */
export async function openSession(file: string): Promise<SessionReader> {
  try {
    return await SessionReader.open(file);
  } catch (error) {
    if (error instanceof SessionFileError) throw new UserError(error.message);
    throw error;
  }
}
