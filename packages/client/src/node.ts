// The SDK's Node entry: everything the browser entry has, plus what needs a file system.

export * from './index.ts';
export { createFileResumeStore } from './resume-store-file.ts';
