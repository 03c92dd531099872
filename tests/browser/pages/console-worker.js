console.warn('hello from the worker');
postMessage('logged');
setTimeout(() => {
  throw new Error('worker boom');
}, 0);
